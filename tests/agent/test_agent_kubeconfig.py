"""Credentials: kubeconfig reading, in-cluster service account, --token-file, TLS setup.

Real files and a real `ssl` context throughout; what matters is which credential wins and
that -data secrets reach ssl without being left on disk.
"""
from __future__ import annotations

import base64
import os
import stat

import pytest
from agent_helpers import write_kubeconfig

from compiler.agent import kubeapi
from compiler.agent.kubeapi import (
    ConfigError,
    in_cluster_config,
    kubeconfig_config,
    load_config,
    ssl_context,
)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_token_and_ca_data(tmp_path, cert_pair):
    cert, _ = cert_pair
    path = write_kubeconfig(tmp_path / "kc", "https://127.0.0.1:6443/prefix/", ca_data=_b64(cert),
                            user={"token": "s3cret-token"}, extra_contexts=2)
    cfg = kubeconfig_config(str(path))
    assert (cfg.host, cfg.port, cfg.base_path, cfg.namespace) == ("127.0.0.1", 6443, "/prefix", "tenant-a")
    assert cfg.ca_data.startswith("-----BEGIN CERTIFICATE") and cfg.token == "s3cret-token"
    assert "s3cret-token" not in repr(cfg), "secrets never show in a repr"
    ctx = ssl_context(cfg)
    assert ctx.verify_mode.name == "CERT_REQUIRED" and ctx.check_hostname
    assert len(ctx.get_ca_certs()) == 1, "the kubeconfig's CA only, not the system store"


def test_context_choice(tmp_path):
    path = write_kubeconfig(tmp_path / "kc", "https://10.1.2.3", extra_contexts=1)
    assert kubeconfig_config(str(path)).port == 443
    assert kubeconfig_config(str(path), context="decoy0").host == "decoy0.invalid"
    with pytest.raises(ConfigError, match="no context named 'nope'"):
        kubeconfig_config(str(path), context="nope")


def test_client_certificate_data_goes_through_private_temp_files_that_vanish(tmp_path, cert_pair, monkeypatch):
    cert, key = cert_pair
    path = write_kubeconfig(tmp_path / "kc", "https://127.0.0.1:1", insecure=True,
                            user={"client-certificate-data": _b64(cert), "client-key-data": _b64(key)})
    temp_dir = tmp_path / "tmp"
    temp_dir.mkdir()
    monkeypatch.setattr(kubeapi.tempfile, "tempdir", str(temp_dir))
    modes = []
    real = kubeapi._secret_temp

    def spy(data, made):
        name = real(data, made)
        modes.append(stat.S_IMODE(os.stat(name).st_mode))
        return name

    monkeypatch.setattr(kubeapi, "_secret_temp", spy)
    cfg = kubeconfig_config(str(path))
    ctx = ssl_context(cfg)
    assert modes == [0o600, 0o600]
    assert list(temp_dir.iterdir()) == [], "decoded key material is removed once ssl has read it"
    assert ctx.verify_mode.name == "CERT_NONE", "insecure-skip-tls-verify is honoured"


def test_client_certificate_files_relative_to_the_kubeconfig(tmp_path, cert_pair):
    cert, key = cert_pair
    (tmp_path / "pki").mkdir()
    (tmp_path / "pki" / "c.crt").write_bytes(cert)
    (tmp_path / "pki" / "c.key").write_bytes(key)
    (tmp_path / "pki" / "ca.crt").write_bytes(cert)
    path = write_kubeconfig(tmp_path / "kc", "https://127.0.0.1:1",
                            user={"client-certificate": "pki/c.crt", "client-key": "pki/c.key"})
    text = path.read_text().replace("server: https://127.0.0.1:1",
                                    "server: https://127.0.0.1:1\n    certificate-authority: pki/ca.crt")
    path.write_text(text)
    cfg = kubeconfig_config(str(path))
    assert cfg.cert_file == str(tmp_path / "pki" / "c.crt") and cfg.ca_file == str(tmp_path / "pki" / "ca.crt")
    ssl_context(cfg)  # loads without error


@pytest.mark.parametrize("user, complaint", [
    ({"exec": {"command": "aws"}}, "exec/auth-provider"),
    ({"client-certificate": "only-cert.crt"}, "given together"),
])
def test_refused_users(tmp_path, user, complaint):
    path = write_kubeconfig(tmp_path / "kc", "https://127.0.0.1:1", user=user)
    with pytest.raises(ConfigError, match=complaint):
        kubeconfig_config(str(path))


@pytest.mark.parametrize("content, complaint", [
    ("clusters: [", "not valid YAML"),
    ("- a\n- b\n", "not a mapping"),
    ("clusters: []\n", "no current-context"),
])
def test_broken_kubeconfigs(tmp_path, content, complaint):
    path = tmp_path / "kc"
    path.write_text(content)
    with pytest.raises(ConfigError, match=complaint):
        kubeconfig_config(str(path))


def test_plain_http_server_is_refused(tmp_path):
    path = write_kubeconfig(tmp_path / "kc", "http://127.0.0.1:8080")
    with pytest.raises(ConfigError, match="https://"):
        kubeconfig_config(str(path))


def test_missing_kubeconfig_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read kubeconfig"):
        kubeconfig_config(str(tmp_path / "absent"))


def test_token_file_replaces_every_other_credential(tmp_path, cert_pair):
    cert, key = cert_pair
    token = tmp_path / "token"
    token.write_text("t0ken\n")
    path = write_kubeconfig(tmp_path / "kc", "https://127.0.0.1:1", insecure=True,
                            user={"token": "other", "client-certificate-data": _b64(cert),
                                  "client-key-data": _b64(key)})
    cfg = load_config(str(path), token_file=str(token), env={})
    assert (cfg.token, cfg.token_file, cfg.cert_data, cfg.key_data) == (None, str(token), None, None)
    client = kubeapi.KubeClient(cfg)
    assert client._bearer() == "t0ken"
    with pytest.raises(ConfigError, match="not readable"):
        load_config(str(path), token_file=str(tmp_path / "absent"), env={})


def _service_account(tmp_path, cert):
    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "token").write_text("pod-token")
    (sa / "ca.crt").write_bytes(cert)
    (sa / "namespace").write_text("tenant-a")
    return sa


def test_in_cluster_service_account(tmp_path, cert_pair):
    sa = _service_account(tmp_path, cert_pair[0])
    env = {"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}
    cfg = in_cluster_config(env, sa_dir=str(sa))
    assert (cfg.host, cfg.port, cfg.namespace, cfg.token_file) == ("fd00::1", 443, "tenant-a", str(sa / "token"))
    assert cfg.ca_file == str(sa / "ca.crt")
    assert kubeapi.KubeClient(cfg)._bearer() == "pod-token"


def test_in_cluster_needs_env_and_token(tmp_path, cert_pair):
    with pytest.raises(ConfigError, match="KUBERNETES_SERVICE_HOST"):
        in_cluster_config({}, sa_dir=str(tmp_path))
    with pytest.raises(ConfigError, match="automountServiceAccountToken"):
        in_cluster_config({"KUBERNETES_SERVICE_HOST": "h", "KUBERNETES_SERVICE_PORT": "443"}, sa_dir=str(tmp_path))


def test_load_config_order(tmp_path, cert_pair, monkeypatch):
    explicit = write_kubeconfig(tmp_path / "explicit", "https://explicit.invalid:1")
    from_env = write_kubeconfig(tmp_path / "from-env", "https://from-env.invalid:1")
    sa = _service_account(tmp_path, cert_pair[0])
    monkeypatch.setattr(kubeapi, "SERVICE_ACCOUNT_DIR", str(sa))
    pod = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443",
           "KUBECONFIG": os.pathsep + str(from_env)}
    assert load_config(str(explicit), env=pod).host == "explicit.invalid"
    assert load_config(None, env=pod).host == "10.0.0.1"
    assert load_config(None, env={"KUBECONFIG": pod["KUBECONFIG"]}).host == "from-env.invalid"
    with pytest.raises(ConfigError, match="no cluster"):
        load_config(None, env={})
