"""Helpers of the live tests: unique names, synthetic repositories, hand-made object sets.

The session cluster is shared with other test modules, so everything here is named with a
per-session random prefix and labelled with a cluster name of its own: prune decisions are
scoped by the cluster label, so no test can prune another's objects.
"""
from __future__ import annotations

import itertools
import secrets
from pathlib import Path

from compiler.kinds import file_name
from compiler.kube.client import KubeClient
from compiler.kube.config import Target
from compiler.load import yaml_io
from compiler.render.context import make_object
from compiler.write import serialize_all

REPO = Path(__file__).resolve().parents[2]
SHARED_CRDS = REPO.parent / "shared" / "crds"
PLATFORM = "live-tests"  # the platform label of the objects these tests make
SESSION = f"lt{secrets.token_hex(3)}"  # e.g. lt3fa9c1: DNS-safe and short (tenant names <= 30)


def unique(name: str) -> str:
    return f"{SESSION}-{name}"


_counter = itertools.count()


def fresh(stem: str) -> str:
    """A name no other call in this session gets (tests that share a stem stay apart)."""
    return unique(f"{stem}{next(_counter)}")


def client_for(plane, observer=None, **kwargs) -> KubeClient:
    """A fresh client (fresh request counts) for a ControlPlane, through the kubeconfig."""
    from compiler.kube.config import connect, read_kubeconfig

    client = connect(Target("any", plane.name), read_kubeconfig(plane.kubeconfig_path), **kwargs)
    client.observer = observer
    return client


def target(cluster: str, plane) -> Target:
    return Target(cluster, plane.name)


# -- hand-made object sets --------------------------------------------------------------------
def tenant_objects(namespace: str, cluster: str, tenant: str | None = None,
                   platform: str = PLATFORM) -> dict[str, dict]:
    """A tenant's basic objects (the kinds of the tenancy renderers), keyed like rendered/."""
    tenant = tenant or namespace

    def obj(api_version: str, kind: str, name: str, namespaced: bool = True, **body) -> dict:
        return make_object(api_version, kind, name, namespace if namespaced else None, tenant, cluster,
                           "tenants/test.yaml", None, body, platform=platform)

    objects = [
        obj("v1", "Namespace", namespace, namespaced=False),
        obj("v1", "ResourceQuota", "tenant-quota", spec={"hard": {"requests.cpu": "8", "requests.memory": "32Gi",
                                                                  "pods": "100"}}),
        obj("v1", "LimitRange", "tenant-limits", spec={"limits": [{
            "type": "Container", "default": {"cpu": "2", "memory": "8Gi"},
            "defaultRequest": {"cpu": "500m", "memory": "2Gi"}, "max": {"cpu": "16", "memory": "64Gi"}}]}),
        obj("networking.k8s.io/v1", "NetworkPolicy", "default-deny",
            spec={"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        obj("networking.k8s.io/v1", "NetworkPolicy", "allow-monitoring", spec={
            "podSelector": {}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"namespaceSelector": {
                "matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]}]}),
        obj("rbac.authorization.k8s.io/v1", "RoleBinding", "members-edit",
            roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
            subjects=[{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": f"{tenant}-eng"}]),
        obj("v1", "ServiceAccount", "workloads", automountServiceAccountToken=False),
        obj("v1", "ConfigMap", "settings", data={"mode": "batch"}),
        obj("scheduling.volcano.sh/v1beta1", "Queue", namespace, namespaced=False,
            spec={"weight": 2, "reclaimable": True, "capability": {"cpu": "8", "memory": "32Gi"}}),
    ]
    return {f"{cluster}/{tenant}/{file_name(o)}": o for o in objects}


def find(objects: dict[str, dict], kind: str, name: str | None = None) -> dict:
    """The one object of `kind` (and `name`) in a set; the test's own handle on it."""
    matches = [o for o in objects.values() if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert len(matches) == 1, f"{len(matches)} {kind} {name or ''} in the set"
    return matches[0]


def write_tree(objects: dict[str, dict], folder: Path) -> Path:
    """Write objects as rendered/ files (same bytes as compile) for kubectl to read."""
    for path, content in serialize_all(objects).items():
        target_file = folder / path
        target_file.parent.mkdir(parents=True, exist_ok=True)
        target_file.write_bytes(content)
    return folder


# -- synthetic repositories -----------------------------------------------------------------
def write_repo(root: Path, cluster: str, context: str, tenants: list[str], queue: str,
               extra: dict[str, dict] | None = None) -> Path:
    """tenants/ with one cluster and a few tenants using the tenancy features; `extra` adds
    fields to the tenants it names (e.g. datasets)."""
    folder = root / "tenants"
    folder.mkdir(parents=True, exist_ok=True)
    platform = {
        "name": "live-tests", "owners": ["platform@example.com"],
        "clusters": [{"name": cluster, "kubernetesVersion": "1.37", "context": context,
                      "capacity": {"cpu": "1000", "memory": "4Ti", "pods": "10000", "persistentvolumeclaims": "100",
                                   "storage": "100Ti"}}],
        "queues": [{"name": queue, "weight": 1}],
        "allowedRegistries": ["registry.example.com/"],  # none would admit every registry (refused, issue 14)
    }
    (folder / "platform.yaml").write_text(yaml_io.dump(platform))
    for i, name in enumerate(tenants):
        spec = {
            "name": name, "displayName": f"Live test tenant {i}", "owner": f"dev{i}@example.com",
            "members": [{"user": f"dev{i}@example.com", "role": "admin"}, {"group": f"{name}-eng", "role": "edit"}],
            "quota": {"cpu": "8", "memory": "32Gi", "pods": 50, "pvcs": 4, "storage": "1Ti"},
            "placement": {cluster: {"weight": 1}},
            "queue": {"weight": 1 + i, "parent": queue},
            "network": {"egress": [{"cidr": f"10.{i}.0.0/16", "ports": [{"port": 443}]}],
                        "allowFromTenants": [tenants[(i + 1) % len(tenants)]] if len(tenants) > 1 else []},
            **(extra or {}).get(name, {}),
        }
        (folder / f"{name}.yaml").write_text(yaml_io.dump(spec))
    return root


# -- the library calls every test makes ---------------------------------------------------------
def change_set(client: KubeClient, tgt: Target, desired: dict[str, dict], mode: str = "diff", **kwargs):
    from compiler.live.changeset import cluster_change_set

    return cluster_change_set(client, tgt, desired, mode=mode, **kwargs)


def apply(client: KubeClient, tgt: Target, desired: dict[str, dict], **options):
    """The change set (apply mode), applied, as `tenantc apply` does; returns the ApplyReport."""
    from compiler.live.apply import apply_cluster
    from compiler.live.options import ApplyOptions

    opts = ApplyOptions(**options)
    made = change_set(client, tgt, desired, "apply", concurrency=opts.concurrency, prune_flags=opts.prune_flags,
                      force_conflicts=opts.force_conflicts)
    return apply_cluster(client, made, desired, opts)


def patch(client: KubeClient, obj: dict, body: dict, manager: str = "ops-bob") -> dict:
    """Another field manager changes a live object (a JSON merge patch, as `kubectl edit` would)."""
    import json

    from compiler.kube.discovery import discover

    resource = discover(client).for_object(obj)
    return client.request("PATCH", resource.object_path(obj), {"fieldManager": manager},
                          json.dumps(body).encode(), "application/merge-patch+json")


def live_get(client: KubeClient, obj: dict) -> dict | None:
    from compiler.kube.discovery import discover
    from compiler.kube.errors import ApiError

    try:
        return client.get(discover(client).for_object(obj).object_path(obj))
    except ApiError as exc:
        if exc.not_found:
            return None
        raise


# -- another user than the admin (whose group system:masters API Priority and Fairness exempts) --------
def user_kubeconfig(plane, user: str, folder: Path, groups: tuple[str, ...] = ()) -> Path:
    """A kubeconfig for `plane` as `user` (a client certificate signed by the plane's CA),
    with the plane's context name; grant it rights separately (RBAC)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    from compiler.cluster.kubeconfig import build_kubeconfig, cert_user, write_kubeconfig

    ca_cert = x509.load_pem_x509_certificate(plane.pki.ca.read_bytes())
    ca_key = serialization.load_pem_private_key(plane.pki.key("ca").read_bytes(), password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, user),
                         *(x509.NameAttribute(NameOID.ORGANIZATION_NAME, g) for g in groups)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    cert_file, key_file = folder / f"{user}.crt", folder / f"{user}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    config = build_kubeconfig(plane.name, plane.server, plane.pki.ca, cert_user(cert_file, key_file), user)
    return write_kubeconfig(folder / f"{user}.kubeconfig", config)
