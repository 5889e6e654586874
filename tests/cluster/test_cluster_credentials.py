"""Every kubeconfig credential kind against the real API server: `tenantc status`/`diff` and the
client authenticate as the user the credential stands for, never as system:anonymous.

Identities come from the cluster itself: static tokens (the API server's --token-auth-file,
ControlPlane.add_static_token), a ServiceAccount token from TokenRequest, client certificates
signed by the cluster CA (ControlPlane.client_certificate), and an exec plugin (a small script,
credential_helpers.py) that hands out one of those. Who the server saw is read three ways:
a SelfSubjectReview (authentication.k8s.io/v1) through the client, the user of the CLI's
requests in the audit log (userAgent "tenantc"), and RBAC: a user bound to nothing is refused
by name. Expected behaviour is kubectl's (client-go's kubeconfig loader and credential plugin
contract, see docs/controlplane.md, "Credentials").
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml
from credential_helpers import (
    V1,
    V1BETA1,
    ConnectProxy,
    b64,
    exec_user,
    kubeconfig_doc,
    plugin_runs,
    write_doc,
    write_plugin,
)

from compiler.cluster import APISERVER
from compiler.kube.config import Target, connect, read_kubeconfig
from compiler.kube.errors import ApiError, ConfigError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "live"))
from live_support import SHARED_CRDS, write_repo  # noqa: E402

pytestmark = pytest.mark.cluster

OPERATORS = "tenantc:operators"  # the group bound to cluster-admin for this module
SSR = "/apis/authentication.k8s.io/v1/selfsubjectreviews"


def who_am_i(client) -> tuple[str, list[str]]:
    """The user the API server authenticated, by SelfSubjectReview (GA in authentication.k8s.io/v1)."""
    body = json.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}).encode()
    info = client.request("POST", SSR, None, body, "application/json")["status"]["userInfo"]
    return info["username"], info.get("groups", [])


class Identities:
    """Users the session cluster knows, and kubeconfigs that present them."""

    def __init__(self, plane, folder: Path):
        self.plane, self.folder = plane, folder
        self.ca = Path(plane.pki.ca).read_bytes()
        self.server = plane.server
        self.port = int(self.server.rsplit(":", 1)[1])
        self.admin = connect(Target("admin", plane.name), read_kubeconfig(plane.kubeconfig_path), retry_for=30)
        self.tokens = {}
        for user, groups in (("token-operator", [OPERATORS]), ("token-nobody", []), ("exec-operator", [OPERATORS])):
            self.tokens[user] = plane.add_static_token(user, groups, restart=False)
        plane.stop_component(APISERVER)  # the API server reads its static token file when it starts
        plane.start_component(APISERVER)
        self.certs = {user: plane.client_certificate(user, user, [OPERATORS])
                      for user in ("cert-operator", "exec-cert-operator")}
        self.namespace = f"creds-{uuid.uuid4().hex[:6]}"
        self._post("/api/v1/namespaces", {"metadata": {"name": self.namespace}})
        self._post(f"/api/v1/namespaces/{self.namespace}/serviceaccounts", {"metadata": {"name": "operator"}})
        self.sa_user = f"system:serviceaccount:{self.namespace}:operator"
        self.binding = f"tenantc-test-operators-{self.namespace}"
        self._post("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
            "metadata": {"name": self.binding},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": OPERATORS},
                         {"kind": "ServiceAccount", "name": "operator", "namespace": self.namespace}]})
        self.sa_token = self._post(f"/api/v1/namespaces/{self.namespace}/serviceaccounts/operator/token", {
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
            "spec": {"expirationSeconds": 3600}})["status"]["token"]

    def _post(self, path: str, body: dict) -> dict:
        return self.admin.request("POST", path, None, json.dumps(body).encode(), "application/json")

    def kubeconfig(self, name: str, user: dict, cluster: dict | None = None, ca: bool = True,
                   server: str | None = None) -> Path:
        """A kubeconfig with one context named like the session cluster (the repo's platform uses it)."""
        doc = kubeconfig_doc(server or self.server, user, context=self.plane.name, cluster=cluster,
                             ca_pem=self.ca if ca else None)
        return write_doc(self.folder / f"{name}.kubeconfig", doc)

    def close(self) -> None:
        for path in (f"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/{self.binding}",
                     f"/api/v1/namespaces/{self.namespace}"):
            try:
                self.admin.request("DELETE", path)
            except ApiError:
                pass
        self.admin.close()


@pytest.fixture(scope="module")
def ids(control_plane, tmp_path_factory):
    identities = Identities(control_plane, tmp_path_factory.mktemp("credentials"))
    yield identities
    identities.close()


@pytest.fixture(scope="module")
def repo(control_plane, tmp_path_factory):
    """A compiled repository whose one cluster uses the session cluster's context name."""
    root = write_repo(tmp_path_factory.mktemp("creds-repo"), "creds", control_plane.name, ["credtenant"], "creds-q")
    compiled = tenantc("compile", "--root", str(root), *_crd_flags())
    assert compiled.returncode == 0, compiled.stderr
    return root


def _crd_flags() -> list[str]:
    return ["--crd-dir", str(SHARED_CRDS)] if SHARED_CRDS.is_dir() else []


def tenantc(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    return subprocess.run([sys.executable, "-m", "compiler.cli", *args], capture_output=True, text=True,
                          timeout=300, env=env, cwd=cwd)


class Audit:
    """Who sent the CLI's requests (userAgent "tenantc"), read from the API server's audit log."""

    def __init__(self, plane):
        self.path = Path(plane.audit_log_path)
        self.start = self.path.stat().st_size

    def users(self, settle: float = 1.0) -> set[str]:
        time.sleep(settle)  # the log backend writes an event as its request completes
        with open(self.path, "rb") as fh:
            fh.seek(self.start)
            lines = fh.read().splitlines()
        users = set()
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("userAgent") == "tenantc":
                users.add((event.get("user") or {}).get("username") or "(not authenticated)")
        return users


def status_as(ids, repo, kubeconfig: Path) -> tuple[subprocess.CompletedProcess, set[str]]:
    audit = Audit(ids.plane)
    result = tenantc("status", "--root", str(repo), "--kubeconfig", str(kubeconfig), "-o", "json")
    return result, audit.users()


# -- the matrix ------------------------------------------------------------------------------------
def _static_token(ids, tmp):
    return ids.kubeconfig("static-token", {"token": ids.tokens["token-operator"]}), "token-operator"


def _sa_token(ids, tmp):
    return ids.kubeconfig("sa-token", {"token": ids.sa_token}), ids.sa_user


def _token_file(ids, tmp):
    (ids.folder / "sa.token").write_text(ids.sa_token)
    return ids.kubeconfig("token-file", {"tokenFile": "sa.token"}), ids.sa_user  # relative to the kubeconfig


def _cert_files(ids, tmp):
    cert, key = ids.certs["cert-operator"]
    return ids.kubeconfig("cert-files", {"client-certificate": str(cert), "client-key": str(key)}), "cert-operator"


def _cert_data(ids, tmp):
    cert, key = ids.certs["cert-operator"]
    return ids.kubeconfig("cert-data", {"client-certificate-data": b64(cert.read_bytes()),
                                        "client-key-data": b64(key.read_bytes())}), "cert-operator"


def _exec_v1_token(ids, tmp):
    user = exec_user(str(write_plugin(tmp)), tmp / "runs.log", V1, "IfAvailable", token=ids.tokens["exec-operator"])
    return ids.kubeconfig(f"exec-v1-{tmp.name}", user), "exec-operator"


def _exec_v1beta1_cert(ids, tmp):
    cert, key = ids.certs["exec-cert-operator"]
    user = exec_user(str(write_plugin(tmp)), tmp / "runs.log", V1BETA1, None, cert_file=str(cert), key_file=str(key))
    return ids.kubeconfig(f"exec-v1beta1-{tmp.name}", user), "exec-cert-operator"


def _insecure(ids, tmp):
    return ids.kubeconfig("insecure", {"token": ids.tokens["token-operator"]}, {"insecure-skip-tls-verify": True},
                          ca=False), "token-operator"


def _ca_file_and_server_name(ids, tmp):
    (ids.folder / "ca.crt").write_bytes(ids.ca)
    cluster = {"certificate-authority": "ca.crt", "tls-server-name": "kubernetes.default.svc"}
    return ids.kubeconfig("ca-file", {"token": ids.tokens["token-operator"]}, cluster, ca=False), "token-operator"


MATRIX = {
    "token (static token file)": _static_token,
    "token (ServiceAccount)": _sa_token,
    "tokenFile": _token_file,
    "client certificate files": _cert_files,
    "client certificate data": _cert_data,
    "exec v1 token": _exec_v1_token,
    "exec v1beta1 client certificate": _exec_v1beta1_cert,
    "insecure-skip-tls-verify": _insecure,
    "certificate-authority file + tls-server-name": _ca_file_and_server_name,
}


@pytest.mark.parametrize("kind", list(MATRIX))
def test_each_credential_authenticates_as_its_user(ids, repo, tmp_path, kind):
    kubeconfig, expected = MATRIX[kind](ids, tmp_path)
    client = connect(Target("creds", ids.plane.name), read_kubeconfig(str(kubeconfig)), retry_for=10)
    try:
        username, _ = who_am_i(client)
    finally:
        client.close()
    assert username == expected

    result, users = status_as(ids, repo, kubeconfig)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["clusters"][0]["errors"] == []
    assert users == {expected}, f"the API server saw {users} for {kind}"
    if kind.startswith("exec"):
        assert len(plugin_runs(tmp_path / "runs.log")) == 2  # once in this process, once in the CLI's


def test_a_user_bound_to_nothing_is_refused_by_name(ids, repo):
    kubeconfig = ids.kubeconfig("nobody", {"token": ids.tokens["token-nobody"]})
    result, users = status_as(ids, repo, kubeconfig)
    assert result.returncode == 2
    errors = json.loads(result.stdout)["clusters"][0]["errors"]
    assert errors and all('User "token-nobody" cannot list' in e for e in errors), errors
    assert users == {"token-nobody"}


def test_a_token_the_server_does_not_know_is_401_never_anonymous(ids, repo):
    kubeconfig = ids.kubeconfig("bogus", {"token": "not-a-token-the-server-knows"})
    result, users = status_as(ids, repo, kubeconfig)
    assert result.returncode == 2
    [error] = json.loads(result.stdout)["clusters"][0]["errors"]
    assert "HTTP 401" in error and "Unauthorized" in error, error
    assert users == {"(not authenticated)"}  # refused at authentication, never let through as anonymous


def test_exec_plugin_runs_again_after_a_401_and_once_per_cli_run(ids, repo, tmp_path):
    plugin, log = write_plugin(tmp_path), tmp_path / "runs.log"
    user = exec_user(str(plugin), log, tokens=f"revoked-token,{ids.tokens['exec-operator']}")
    kubeconfig = ids.kubeconfig("exec-rotating", user)
    client = connect(Target("creds", ids.plane.name), read_kubeconfig(str(kubeconfig)), retry_for=10)
    try:
        assert who_am_i(client)[0] == "exec-operator"  # 401 with the first token, the plugin again, then OK
        assert len(plugin_runs(log)) == 2
        assert who_am_i(client)[0] == "exec-operator"
        assert len(plugin_runs(log)) == 2  # cached: no expiry was given
    finally:
        client.close()
    # The CLI reads discovery and six kinds on parallel threads: the plugin still runs once.
    user = exec_user(str(plugin), tmp_path / "cli-runs.log", token=ids.tokens["exec-operator"], expires_in="600")
    result, users = status_as(ids, repo, ids.kubeconfig("exec-cli", user))
    assert result.returncode == 0, result.stderr
    assert users == {"exec-operator"}
    assert len(plugin_runs(tmp_path / "cli-runs.log")) == 1


def test_exec_credential_expiry_on_the_real_server(ids, tmp_path):
    plugin, log = write_plugin(tmp_path), tmp_path / "runs.log"
    user = exec_user(str(plugin), log, token=ids.tokens["exec-operator"], expires_in="3")
    client = connect(Target("creds", ids.plane.name), read_kubeconfig(str(ids.kubeconfig("exec-expiring", user))))
    try:
        assert who_am_i(client)[0] == who_am_i(client)[0] == "exec-operator"
        assert len(plugin_runs(log)) == 1
        time.sleep(3.5)
        assert who_am_i(client)[0] == "exec-operator"
        assert len(plugin_runs(log)) == 2
    finally:
        client.close()


def test_diff_authenticates_as_the_exec_plugin_user(ids, repo, tmp_path):
    user = exec_user(str(write_plugin(tmp_path)), tmp_path / "runs.log", token=ids.tokens["exec-operator"])
    kubeconfig = ids.kubeconfig("exec-diff", user)
    audit = Audit(ids.plane)
    result = tenantc("diff", "--root", str(repo), *_crd_flags(), "--kubeconfig", str(kubeconfig), "-o", "json")
    assert result.returncode in (0, 1), result.stdout + result.stderr  # 1: differences (nothing applied)
    assert json.loads(result.stdout)["clusters"][0]["context"] == ids.plane.name
    assert audit.users() == {"exec-operator"}
    assert len(plugin_runs(tmp_path / "runs.log")) == 1


def test_proxy_url_carries_every_connection(ids, repo):
    # The server's host name exists only for the proxy, which routes it to the local API server: a
    # connection that bypassed the proxy could not even resolve it. TLS is checked against
    # tls-server-name (a name in the serving certificate), through the tunnel.
    with ConnectProxy(route=lambda host, port: ("127.0.0.1", port), credentials="ops:s3cret") as proxy:
        cluster = {"proxy-url": proxy.url("ops:s3cret"), "tls-server-name": "kubernetes.default.svc"}
        kubeconfig = ids.kubeconfig("proxied", {"token": ids.tokens["token-operator"]}, cluster,
                                    server=f"https://api.tenantc-test.invalid:{ids.port}")
        result, users = status_as(ids, repo, kubeconfig)
        assert result.returncode == 0, result.stdout + result.stderr
        assert users == {"token-operator"}
        assert proxy.tunnels and set(proxy.tunnels) == {("api.tenantc-test.invalid", ids.port)}
        assert proxy.refused == 0
        # Wrong proxy credentials: the tunnel is refused, said clearly, never sent around the proxy.
        cluster["proxy-url"] = proxy.url("ops:wrong")
        denied = ids.kubeconfig("proxy-denied", {"token": ids.tokens["token-operator"]}, cluster,
                                server=f"https://api.tenantc-test.invalid:{ids.port}")
        client = connect(Target("creds", ids.plane.name), read_kubeconfig(str(denied)), retry_for=1)
        with pytest.raises(Exception, match="407 Proxy Authentication Required"):
            who_am_i(client)
        client.close()
        assert proxy.refused >= 1


def test_certificate_checks_fail_at_once_and_say_why(ids, repo):
    started = time.monotonic()
    wrong_name = ids.kubeconfig("wrong-name", {"token": ids.tokens["token-operator"]},
                                {"tls-server-name": "api.elsewhere.example"})
    result = tenantc("status", "--root", str(repo), "--kubeconfig", str(wrong_name), "-o", "json")
    assert result.returncode == 2
    [error] = json.loads(result.stdout)["clusters"][0]["errors"]
    assert f"context '{ids.plane.name}'" in error and "not trusted for the name api.elsewhere.example" in error
    no_ca = ids.kubeconfig("no-ca", {"token": ids.tokens["token-operator"]}, ca=False)  # system roots only
    client = connect(Target("creds", ids.plane.name), read_kubeconfig(str(no_ca)))
    with pytest.raises(ConfigError, match="certificate of https://127.0.0.1:.* is not trusted"):
        who_am_i(client)
    client.close()
    assert time.monotonic() - started < 30  # not retried for the client's whole budget


def test_interactive_always_plugin_is_refused_with_the_context(ids, repo, tmp_path):
    user = exec_user(str(write_plugin(tmp_path)), tmp_path / "runs.log", V1, "Always", token="t")
    result = tenantc("status", "--root", str(repo), "--kubeconfig", str(ids.kubeconfig("always", user)))
    assert result.returncode == 2  # the cluster's entry carries the error; other clusters would still be read
    [error] = [line for line in result.stdout.splitlines() if line.strip().startswith("error:")]
    assert f"context '{ids.plane.name}'" in error and "interactiveMode Always" in error, result.stdout
    assert "Traceback" not in result.stderr
    assert plugin_runs(tmp_path / "runs.log") == []


def test_kubectl_agrees_on_who_each_kubeconfig_is(ids, kubectl, tmp_path):
    """The outside oracle: kubectl's own loader reads the same files as the same users."""
    for kind in ("token (static token file)", "tokenFile", "client certificate data", "exec v1 token"):
        folder = tmp_path / kind.split()[0]
        folder.mkdir(exist_ok=True)
        kubeconfig, expected = MATRIX[kind](ids, folder)
        shown = kubectl("auth", "whoami", "-o", "json", kubeconfig=str(kubeconfig))
        assert yaml.safe_load(shown.stdout)["status"]["userInfo"]["username"] == expected, kind
