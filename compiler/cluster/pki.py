"""Certificates and keys of the local control plane.

The API server only trusts clients whose certificate is signed by its client CA, and
ServiceAccount tokens need a signing key, so `up` makes a private CA, the serving and
client certificates, and the SA key. ECDSA P-256 keeps generation to milliseconds (RSA
would cost a noticeable part of the 15 s start budget). Existing files are reused, so a
stopped cluster resumes with the same identities and old kubeconfigs keep working.
"""
from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=365)
# Names a client may use for the API server: loopback from the host, and the in-cluster
# service names/IP (first address of the service range) so certificates look like a real
# cluster's even though nothing runs in-cluster here.
SERVICE_IP = "10.0.0.1"
SERVING_DNS = ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
               "kubernetes.default.svc.cluster.local"]
SERVING_IPS = ["127.0.0.1", SERVICE_IP]
ADMIN_USER, ADMIN_GROUP = "tenantc-admin", "system:masters"
CONTROLLER_MANAGER_USER = "system:kube-controller-manager"  # bound by the bootstrap RBAC policy
SCHEDULER_USER = "system:kube-scheduler"  # bound by the bootstrap RBAC policy
# kwok stands in for the kubelets of every node a test creates (node status and leases, pod
# status, pod deletion): a test double on a loopback-only cluster, so it acts as an admin
# under its own name (the audit log tells its requests apart).
KWOK_USER = "kwok"


@dataclass(frozen=True)
class Pki:
    """Paths of every file under `<state>/pki`; the single place that names them."""

    root: Path

    def cert(self, name: str) -> Path:
        return self.root / f"{name}.crt"

    def key(self, name: str) -> Path:
        return self.root / f"{name}.key"

    @property
    def ca(self) -> Path:
        return self.cert("ca")

    @property
    def sa_key(self) -> Path:
        return self.key("sa")

    @property
    def sa_pub(self) -> Path:
        return self.root / "sa.pub"


def ensure_pki(root: Path) -> Pki:
    """Create whatever is missing under `root`: CA, apiserver, admin, controller-manager,
    scheduler and kwok client certificates, SA key."""
    pki = Pki(root)
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    if pki.ca.exists() and pki.key("ca").exists():
        ca_key = _load_key(pki.key("ca"))
        ca_cert = x509.load_pem_x509_certificate(pki.ca.read_bytes())
    else:
        ca_key = _new_key()
        ca_cert = _ca_certificate(ca_key)
        _write_pair(pki, "ca", ca_key, ca_cert)
    wanted = {
        "apiserver": lambda key: _leaf(ca_cert, ca_key, key, "kube-apiserver", [], server=True),
        "admin": lambda key: _leaf(ca_cert, ca_key, key, ADMIN_USER, [ADMIN_GROUP]),
        "controller-manager": lambda key: _leaf(ca_cert, ca_key, key, CONTROLLER_MANAGER_USER, []),
        "scheduler": lambda key: _leaf(ca_cert, ca_key, key, SCHEDULER_USER, []),
        "kwok": lambda key: _leaf(ca_cert, ca_key, key, KWOK_USER, [ADMIN_GROUP]),
    }
    for name, make in wanted.items():
        if not (pki.cert(name).exists() and pki.key(name).exists()):
            key = _new_key()
            _write_pair(pki, name, key, make(key))
    if not (pki.sa_key.exists() and pki.sa_pub.exists()):
        key = _new_key()
        _write_private(pki.sa_key, key)
        pki.sa_pub.write_bytes(key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return pki


def issue_client_certificate(pki: Pki, name: str, user: str, groups: Sequence[str] = ()) -> tuple[Path, Path]:
    """(certificate, key) of a client certificate for `user` in `groups` (the API server reads the
    user from the CN and the groups from O), signed by the cluster CA; made once per `name`."""
    if name in ("ca", "apiserver", "sa"):
        raise ValueError(f"{name!r} is the name of the cluster's own key material")
    if not (pki.cert(name).exists() and pki.key(name).exists()):
        ca_key = _load_key(pki.key("ca"))
        ca_cert = x509.load_pem_x509_certificate(pki.ca.read_bytes())
        key = _new_key()
        _write_pair(pki, name, key, _leaf(ca_cert, ca_key, key, user, list(groups)))
    return pki.cert(name), pki.key(name)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path}: not an ECDSA key (delete the pki folder to make new ones)")
    return key


def _name(common_name: str, orgs: Sequence[str] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    return x509.Name(attrs + [x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject: x509.Name, issuer: x509.Name, public_key) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))  # tolerate small clock skew
            .not_valid_after(now + VALIDITY))


def _ca_certificate(key) -> x509.Certificate:
    name = _name("tenantc-local-ca")
    return (_builder(name, name, key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))


def _leaf(ca_cert, ca_key, key, common_name: str, orgs: list[str], server: bool = False):
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (_builder(_name(common_name, orgs), ca_cert.subject, key.public_key())
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                              critical=False))
    if server:
        sans: list[x509.GeneralName] = [x509.DNSName(d) for d in SERVING_DNS]
        sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in SERVING_IPS]
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def _write_private(path: Path, key) -> None:
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _write_pair(pki: Pki, name: str, key, cert: x509.Certificate) -> None:
    _write_private(pki.key(name), key)
    pki.cert(name).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
