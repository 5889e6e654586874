"""Kubeconfig files and credentials as kubectl reads them, offline (the live proof is
tests/cluster/test_cluster_credentials.py).

The expectations are client-go's documented behaviour: the kubeconfig merging rules
("Organizing Cluster Access Using kubeconfig Files"), the kubeconfig v1 fields, and the
client-go credential plugin contract (client.authentication.k8s.io v1/v1beta1: ExecCredential,
KUBERNETES_EXEC_INFO, interactiveMode, provideClusterInfo, expirationTimestamp). One deliberate
difference is tested too: a context that yields no credential is an error, never anonymous.
"""
from __future__ import annotations

import base64
import json
import os
import time
from urllib.parse import urlsplit

import pytest
from credential_helpers import V1, V1BETA1, exec_user, kubeconfig_doc, plugin_runs, write_doc, write_plugin

from compiler.kube.config import Target, connect, read_kubeconfig
from compiler.kube.credentials import TokenFileCredentials, credentials_for
from compiler.kube.errors import ConfigError
from compiler.kube.kubeconfig import environment_proxy, load, resolve

SERVER = "https://api.example.invalid:6443"


def settings(tmp_path, user: dict, cluster: dict | None = None, name: str = "config", **kwargs):
    path = write_doc(tmp_path / name, kubeconfig_doc(SERVER, user, cluster=cluster, **kwargs))
    return resolve(load(str(path)), kwargs.get("context", "ctx"))


def creds(tmp_path, user: dict, cluster: dict | None = None):
    return credentials_for(settings(tmp_path, user, cluster))


# -- files and merging ------------------------------------------------------------------------------
def test_kubeconfig_list_merges_first_wins_and_skips_missing_files(tmp_path, monkeypatch):
    one, two = tmp_path / "one", tmp_path / "two"
    (one.mkdir(), two.mkdir())
    (two / "token").write_text("from-two\n")
    first = kubeconfig_doc("https://first.invalid", {"token": "first"}, context="shared")
    first.pop("current-context")
    second = kubeconfig_doc("https://second.invalid", {"tokenFile": "token"}, context="shared")
    second["contexts"].append({"name": "only-two", "context": {"cluster": "shared-cluster", "user": "shared-user"}})
    second["current-context"] = "only-two"
    write_doc(one / "config", first)
    write_doc(two / "config", second)
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(tmp_path / "absent"), str(one / "config"), "",
                                                      str(two / "config")]))
    config = read_kubeconfig(None)
    assert config.contexts == ("shared", "only-two")
    assert config.current == "only-two"  # the first file that sets one: the first has none
    shared = resolve(config.merged, "shared")
    assert shared.cluster.server == "https://first.invalid"  # the first file to name it wins
    assert credentials_for(shared).authorization() == "Bearer first"
    # A relative file name is read from the folder of the file that holds it, not the cwd.
    merged_user = resolve(load(str(two / "config")), "only-two").user
    assert merged_user.path("tokenFile") == str(two / "token")
    assert credentials_for(resolve(load(str(two / "config")), "only-two")).authorization() == "Bearer from-two"


def test_a_named_file_must_exist_and_be_a_kubeconfig(tmp_path):
    with pytest.raises(ConfigError, match="cannot read kubeconfig .*missing: no such file"):
        read_kubeconfig(str(tmp_path / "missing"))
    (tmp_path / "bad").write_text("- a list\n")
    with pytest.raises(ConfigError, match="is not a mapping"):
        read_kubeconfig(str(tmp_path / "bad"))
    (tmp_path / "nameless").write_text("contexts:\n- context: {cluster: c, user: u}\n")
    with pytest.raises(ConfigError, match=r"contexts\[0\] has no name"):
        read_kubeconfig(str(tmp_path / "nameless"))


@pytest.mark.parametrize("change, message", [
    (lambda d: d["contexts"][0]["context"].pop("user"), "context 'ctx': no user specified.*system:anonymous"),
    (lambda d: d["contexts"][0]["context"].update(user="ghost"), "context 'ctx': user 'ghost' is not in"),
    (lambda d: d["contexts"][0]["context"].update(cluster="ghost"), "context 'ctx': cluster 'ghost' is not in"),
    (lambda d: d["clusters"][0]["cluster"].pop("server"), r"context 'ctx' \(cluster 'ctx-cluster'\): no server"),
    (lambda d: d["clusters"][0]["cluster"].update(server="ftp://x"), "must be an https://"),
    (lambda d: d["users"][0].update(user={}), r"context 'ctx' \(user 'ctx-user'\): no credentials.*system:anonymous"),
    (lambda d: d["users"][0].update(user={"tokenfile": "typo"}), "keys found: tokenfile"),
])
def test_a_context_that_cannot_be_used_is_an_error_naming_it(tmp_path, change, message):
    doc = kubeconfig_doc(SERVER, {"token": "t"})
    change(doc)
    config = load(str(write_doc(tmp_path / "config", doc)))
    with pytest.raises(ConfigError, match=message):
        credentials_for(resolve(config, "ctx"))


def test_connect_names_the_cluster_and_context_and_never_goes_anonymous(tmp_path):
    path = write_doc(tmp_path / "config", kubeconfig_doc(SERVER, {}, context="prod"))
    with pytest.raises(ConfigError) as raised:
        connect(Target("gpu-east", "prod"), read_kubeconfig(str(path)))
    assert str(raised.value).startswith("cluster gpu-east: context 'prod' (user 'prod-user'): no credentials")


@pytest.mark.parametrize("user, message", [
    ({"auth-provider": {"name": "oidc", "config": {}}}, "auth-provider 'oidc' is not supported.*exec plugin"),
    ({"token": "t", "as": "someone"}, r"impersonation \(as\) is not supported"),
    ({"token": "t", "username": "u", "password": "p"}, "more than one authentication method"),
    ({"client-certificate-data": base64.b64encode(b"x").decode()}, "client-key or client-key-data is missing"),
    ({"client-key": "key.pem", "client-certificate": "c", "client-certificate-data": "eA=="},
     "client-certificate and client-certificate-data are both set"),
    ({"client-certificate": "nowhere.pem", "client-key": "k"}, "cannot read client-certificate .*nowhere.pem"),
    ({"token": "t", "client-key-data": "not base64!"}, "client-key-data is not valid base64"),
])
def test_user_entries_kubectl_refuses_or_tenantc_does_not_support(tmp_path, user, message):
    with pytest.raises(ConfigError, match=message):
        creds(tmp_path, user)


@pytest.mark.parametrize("cluster, message", [
    ({"insecure-skip-tls-verify": True, "certificate-authority-data": "eA=="}, "cannot both be set"),
    ({"certificate-authority": "no-ca.crt"}, "cannot read certificate-authority .*no-ca.crt"),
    ({"proxy-url": "socks5://127.0.0.1:1080"}, "socks5 proxies are not supported"),
    ({"proxy-url": "https://user:secret@proxy:3128"}, r"https proxies are not supported"),
    ({"insecure-skip-tls-verify": "yes"}, "must be true or false"),
])
def test_cluster_entries_that_cannot_be_used(tmp_path, cluster, message):
    with pytest.raises(ConfigError, match=message) as raised:
        settings(tmp_path, {"token": "t"}, cluster)
    assert "secret" not in str(raised.value)


# -- static credentials -----------------------------------------------------------------------------
def test_token_basic_auth_and_client_certificate(tmp_path):
    assert creds(tmp_path, {"token": "abc"}).authorization() == "Bearer abc"
    basic = creds(tmp_path, {"username": "ann", "password": "pw"}).authorization()
    assert basic == "Basic " + base64.b64encode(b"ann:pw").decode()
    (tmp_path / "c.pem").write_text("cert")
    (tmp_path / "k.pem").write_text("key")
    cert = creds(tmp_path, {"client-certificate": "c.pem", "client-key": "k.pem"})
    assert cert.authorization() is None
    assert cert.client_certificate().cert_file == str(tmp_path / "c.pem")
    inline = creds(tmp_path, {"client-certificate-data": base64.b64encode(b"CERT").decode(),
                              "client-key-data": base64.b64encode(b"KEY").decode(), "token": "both"})
    assert inline.client_certificate().cert_pem == b"CERT" and inline.authorization() == "Bearer both"
    assert "both" not in repr(inline) and "KEY" not in repr(inline.client_certificate())


def test_token_file_is_reread_and_a_vanished_file_keeps_the_last_token(tmp_path):
    path = tmp_path / "token"
    path.write_text("one\n")
    source = TokenFileCredentials(str(path), "context 'ctx'", period=0.05)
    assert source.authorization() == "Bearer one"
    path.write_text("two")
    time.sleep(0.1)
    assert source.authorization() == "Bearer two"  # rotated: read again after the period
    path.write_text("three")
    assert source.refresh("Bearer two") is True  # after a 401: read at once
    assert source.authorization() == "Bearer three"
    path.unlink()
    time.sleep(0.1)
    assert source.authorization() == "Bearer three"  # mid-rotation: the last token stays
    with pytest.raises(ConfigError, match="context 'ctx': cannot read tokenFile .*token"):
        TokenFileCredentials(str(path), "context 'ctx'")
    path.write_text("  \n")
    with pytest.raises(ConfigError, match="it is empty"):
        TokenFileCredentials(str(path), "context 'ctx'")


def test_token_file_wins_over_token_which_is_its_fallback(tmp_path):
    (tmp_path / "token").write_text("from-file")
    assert creds(tmp_path, {"token": "static", "tokenFile": "token"}).authorization() == "Bearer from-file"
    assert creds(tmp_path, {"token": "static", "tokenFile": "absent"}).authorization() == "Bearer static"


# -- exec plugins -----------------------------------------------------------------------------------
@pytest.fixture
def plugin(tmp_path):
    return write_plugin(tmp_path)


def test_exec_plugin_gets_args_env_and_exec_info_and_no_stdin(tmp_path, plugin):
    log = tmp_path / "runs.log"
    user = exec_user(str(plugin), log, V1, "IfAvailable", args=["get-token", "--cluster=a b"], token="tok-1",
                     region="eu")
    credentials = creds(tmp_path, user)
    assert plugin_runs(log) == []  # nothing runs until a request needs it
    assert credentials.authorization() == "Bearer tok-1"
    [run] = plugin_runs(log)
    assert run["argv"] == ["get-token", "--cluster=a b"]
    assert run["env"]["PLUGIN_REGION"] == "eu"
    assert run["info"] == {"apiVersion": V1, "kind": "ExecCredential", "spec": {"interactive": False}}
    assert run["stdin_tty"] is False and run["stdin"] == ""


def test_exec_plugin_with_cluster_info(tmp_path, plugin):
    log = tmp_path / "runs.log"
    user = exec_user(str(plugin), log, V1BETA1, None, token="t")
    user["exec"]["provideClusterInfo"] = True
    cluster = {"certificate-authority-data": base64.b64encode(b"-----BEGIN CERTIFICATE-----\n").decode(),
               "tls-server-name": "api.internal", "proxy-url": "http://proxy.invalid:3128",
               "extensions": [{"name": "client.authentication.k8s.io/exec", "extension": {"audience": "prod"}}]}
    creds(tmp_path, user, cluster).authorization()
    [run] = plugin_runs(log)
    assert run["info"]["apiVersion"] == V1BETA1  # v1beta1 defaults interactiveMode to IfAvailable
    assert run["info"]["spec"]["cluster"] == {
        "server": SERVER, "tls-server-name": "api.internal", "proxy-url": "http://proxy.invalid:3128",
        "certificate-authority-data": cluster["certificate-authority-data"], "config": {"audience": "prod"}}


def test_exec_credential_is_cached_until_it_expires_and_shared(tmp_path, plugin):
    log = tmp_path / "runs.log"
    user = exec_user(str(plugin), log, tokens="first,second", expires_in="2")
    credentials = creds(tmp_path, user)
    assert credentials.authorization() == "Bearer first"
    assert credentials.authorization() == "Bearer first"
    again = creds(tmp_path, user)  # another client of the same plugin configuration shares the cache
    assert again.authorization() == "Bearer first"
    assert len(plugin_runs(log)) == 1
    time.sleep(2.2)
    assert credentials.authorization() == "Bearer second"
    assert len(plugin_runs(log)) == 2


def test_exec_credential_without_expiry_is_kept_until_a_401(tmp_path, plugin):
    log = tmp_path / "runs.log"
    credentials = creds(tmp_path, exec_user(str(plugin), log, tokens="stale,fresh"))
    assert credentials.authorization() == "Bearer stale"
    assert credentials.authorization() == "Bearer stale"
    assert credentials.refresh("Bearer stale") is True  # a 401 with the cached token runs the plugin again
    assert credentials.authorization() == "Bearer fresh"
    assert credentials.refresh("Bearer stale") is True  # already rotated by another request: no new run
    assert len(plugin_runs(log)) == 2


def test_relative_exec_command_is_found_beside_the_kubeconfig(tmp_path, plugin, monkeypatch):
    monkeypatch.chdir("/")
    log = tmp_path / "runs.log"
    assert creds(tmp_path, exec_user(f".{os.sep}{plugin.name}", log, token="t")).authorization() == "Bearer t"


def test_static_credentials_take_precedence_over_exec(tmp_path, plugin):
    log = tmp_path / "runs.log"
    user = {**exec_user(str(plugin), log, token="from-plugin"), "token": "static"}
    assert creds(tmp_path, user).authorization() == "Bearer static"
    assert plugin_runs(log) == []


@pytest.mark.parametrize("edit, message", [
    (lambda e: e.update(interactiveMode="Always"), ".*interactiveMode Always.*without a terminal"),
    (lambda e: e.pop("interactiveMode"), "exec interactiveMode must be set for client.authentication.k8s.io/v1"),
    (lambda e: e.update(interactiveMode="Sometimes"), "exec interactiveMode 'Sometimes' is not one of"),
    (lambda e: e.update(apiVersion="client.authentication.k8s.io/v1alpha1"), ".*v1alpha1 was removed"),
    (lambda e: e.pop("apiVersion"), "exec has no apiVersion"),
    (lambda e: e.update(command=""), "exec has no command"),
    (lambda e: e.update(env=[{"value": "x"}]), r"exec env\[0\] has no name"),
])
def test_exec_configurations_refused_before_anything_runs(tmp_path, plugin, edit, message):
    log = tmp_path / "runs.log"
    user = exec_user(str(plugin), log, token="t")
    edit(user["exec"])
    with pytest.raises(ConfigError, match=r"context 'ctx' \(user 'ctx-user'\): " + message):
        creds(tmp_path, user)
    assert plugin_runs(log) == []


@pytest.mark.parametrize("env, message", [
    ({"exit": "3", "stderr": "login expired; run sso login"}, "failed with exit code 3: login expired; run sso login"),
    ({"output": "not json"}, "not an ExecCredential"),
    ({"token": "t", "answer_version": V1BETA1}, f"configured for {V1} but returned '{V1BETA1}'"),
    ({}, "neither a token nor a client certificate"),
    ({"token": "t", "expires_in": "x"}, None),  # the plugin itself fails: float('x')
])
def test_exec_plugin_failures_name_the_context(tmp_path, plugin, env, message):
    credentials = creds(tmp_path, exec_user(str(plugin), tmp_path / "runs.log", **env))
    with pytest.raises(ConfigError, match=r"context 'ctx' \(user 'ctx-user'\): exec plugin .*plugin.py") as raised:
        credentials.authorization()
    if message:
        assert message in str(raised.value)


def test_missing_exec_plugin_shows_the_install_hint(tmp_path):
    user = exec_user("no-such-credential-helper", tmp_path / "runs.log", token="t")
    user["exec"]["installHint"] = "install it with: brew install no-such-credential-helper"
    with pytest.raises(ConfigError, match="executable not found; install it with: brew install"):
        creds(tmp_path, user).authorization()


def test_exec_plugin_certificate_needs_its_key(tmp_path, plugin):
    cert = tmp_path / "c.pem"
    cert.write_text("-----BEGIN CERTIFICATE-----\n")
    credentials = creds(tmp_path, exec_user(str(plugin), tmp_path / "runs.log", cert_file=str(cert),
                                            key_file=str(tmp_path / "missing.key")))
    with pytest.raises(ConfigError, match="exit code 1"):  # the plugin cannot open the key
        credentials.client_certificate()
    output = json.dumps({"apiVersion": V1, "kind": "ExecCredential", "status": {"clientCertificateData": "PEM"}})
    credentials = creds(tmp_path, exec_user(str(plugin), tmp_path / "runs2.log", output=output))
    with pytest.raises(ConfigError, match="client certificate without its key"):
        credentials.client_certificate()


# -- proxies ---------------------------------------------------------------------------------------
def test_environment_proxy_as_go_chooses_it():
    env = {"HTTPS_PROXY": "proxy.corp:3128", "NO_PROXY": "internal.corp,.svc"}
    assert environment_proxy(urlsplit("https://api.example.com"), env) == "http://proxy.corp:3128"
    assert environment_proxy(urlsplit("https://k8s.internal.corp"), env) is None
    assert environment_proxy(urlsplit("https://127.0.0.1:6443"), env) is None  # loopback: never proxied
    assert environment_proxy(urlsplit("https://localhost:6443"), env) is None
    assert environment_proxy(urlsplit("http://api.example.com"), env) is None  # HTTP_PROXY is for http
    with pytest.raises(ConfigError, match="socks5 proxies are not supported"):
        environment_proxy(urlsplit("https://api.example.com"), {"https_proxy": "socks5://p:1080"})


def test_proxy_url_of_the_kubeconfig_wins_even_for_loopback(tmp_path, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://env-proxy.invalid:1")
    path = write_doc(tmp_path / "config", kubeconfig_doc("https://127.0.0.1:6443", {"token": "t"},
                                                          cluster={"proxy-url": "http://u:p@proxy.invalid:3128"}))
    assert resolve(load(str(path)), "ctx").cluster.proxy == "http://u:p@proxy.invalid:3128"


def test_connecting_imports_neither_kubernetes_nor_urllib3(tmp_path):
    """The live commands' client is the standard library's: reading a kubeconfig costs no second of imports."""
    import subprocess
    import sys

    path = write_doc(tmp_path / "config", kubeconfig_doc(SERVER, {"token": "t"}))
    code = ("import sys; from compiler.kube.config import Target, connect, read_kubeconfig; "
            f"connect(Target('c', 'ctx'), read_kubeconfig({str(path)!r})); "
            "print(sorted(m for m in ('kubernetes', 'urllib3') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
