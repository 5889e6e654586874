"""Notebooks as a self-service (issue 16): every notebook Ingress is authenticated at the
platform's auth endpoint with the notebook's member as the only identity let through, and a
notebook with `running: false` keeps its objects but runs no pod.

ingress-nginx external authentication: auth-url is asked for every request, auth-signin is where
a 401 goes, auth-response-headers are passed upstream
(https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#external-authentication);
oauth2-proxy's /oauth2/auth answers 403 to an authenticated user outside `allowed_emails`
(oauth2-proxy docs/docs/features/endpoints.md, "Auth")."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from helpers import notebook_intents

from compiler.kinds import NOTEBOOK_LABEL


def _notebooks(example):
    for spec in example.specs.tenants:
        tenant = spec.tenant
        for nb in notebook_intents(tenant):
            yield tenant, nb, f"{nb.cluster}/{tenant.name}", nb.name


def test_every_notebook_ingress_lets_only_its_member_through(example):
    auth = example.specs.platform.notebooks.auth
    assert auth is not None, "the examples must authenticate notebooks"
    checked = 0
    for _tenant, nb, unit, name in _notebooks(example):
        if not nb.ingress:
            assert f"{unit}/ingress-{name}.yaml" not in example.objects
            continue
        annotations = example.objects[f"{unit}/ingress-{name}.yaml"]["metadata"]["annotations"]
        url = urlsplit(annotations["nginx.ingress.kubernetes.io/auth-url"])
        assert f"{url.scheme}://{url.netloc}{url.path}" == auth.url
        assert parse_qs(url.query) == {"allowed_emails": [nb.user]}
        assert annotations["nginx.ingress.kubernetes.io/auth-signin"] == auth.signin
        assert annotations["nginx.ingress.kubernetes.io/auth-response-headers"] == ",".join(auth.response_headers)
        checked += 1
    assert checked >= 2


def test_a_stopped_notebook_keeps_its_objects_and_runs_no_pod(example):
    states = set()
    for _tenant, nb, unit, name in _notebooks(example):
        sts = example.objects[f"{unit}/statefulset-{name}.yaml"]
        assert sts["spec"]["replicas"] == (1 if nb.running else 0)
        assert f"{unit}/service-{name}.yaml" in example.objects
        states.add(nb.running)
    assert states == {True, False}, "the examples must have a running and a stopped notebook"


def test_a_member_may_have_several_notebooks_told_apart_by_name(example):
    """Vision's mei has a GPU notebook and a stopped CPU one (`name: cpu`): each its own
    StatefulSet, Service and selector, both mounting mei's one home volume."""
    unit = "gpu-east/vision"
    names = {o["metadata"]["name"] for p, o in example.objects.items()
             if p.startswith(unit + "/") and o["kind"] == "StatefulSet"}
    assert {"nb-mei", "nb-mei-cpu"} <= names
    selectors = {example.objects[f"{unit}/statefulset-{n}.yaml"]["spec"]["selector"]["matchLabels"][NOTEBOOK_LABEL]
                 for n in ("nb-mei", "nb-mei-cpu")}
    assert len(selectors) == 2
    for name in ("nb-mei", "nb-mei-cpu"):
        assert _home_claims(example.objects[f"{unit}/statefulset-{name}.yaml"]) == {"home-mei"}


def _home_claims(sts: dict) -> set[str]:
    volumes = sts["spec"]["template"]["spec"].get("volumes") or []
    return {v["persistentVolumeClaim"]["claimName"] for v in volumes
            if v.get("persistentVolumeClaim", {}).get("claimName", "").startswith("home-")}


def test_home_volumes_exist_only_where_their_member_has_a_notebook(example):
    """Per cluster, the home claims are exactly those of the users with a notebook there, and a
    notebook mounts its own user's home only (quant-research: lena and omar on cpu-west, no home
    volume on gpu-east, where lena had one before)."""
    from compiler.model.common import user_handle

    checked = 0
    for spec in example.specs.tenants:
        tenant = spec.tenant
        if tenant.storage.home is None:
            continue
        intents = notebook_intents(tenant)
        for cluster in tenant.placement:
            unit = f"{cluster}/{tenant.name}"
            homes = {o["metadata"]["name"] for p, o in example.objects.items() if p.startswith(unit + "/")
                     and o["kind"] == "PersistentVolumeClaim" and o["metadata"]["name"].startswith("home-")}
            assert homes == {f"home-{user_handle(nb.user)}" for nb in intents if nb.cluster == cluster}, unit
            for nb in intents:
                if nb.cluster == cluster:
                    sts = example.objects[f"{unit}/statefulset-{nb.name}.yaml"]
                    assert _home_claims(sts) == {f"home-{user_handle(nb.user)}"}, nb.name
            checked += 1
    assert checked >= 3
    assert "gpu-east/quant-research/persistentvolumeclaim-home-lena.yaml" not in example.objects


def test_notebook_defaults_fill_what_a_notebook_leaves_out(example):
    """quant-research's notebookDefaults (jupyter-quant, large, cpu-west, Ingress): lena's notebook
    takes them all; omar's (a user its group lists) overrides the size and the Ingress."""
    platform = example.specs.platform.notebooks
    unit = "cpu-west/quant-research"
    for name, size, ingress in (("nb-lena", "large", True), ("nb-omar", "small", False)):
        sts = example.objects[f"{unit}/statefulset-{name}.yaml"]
        container = sts["spec"]["template"]["spec"]["containers"][0]
        assert container["image"] == platform.images["jupyter-quant"]
        assert container["resources"]["requests"]["cpu"] == platform.sizes[size].cpu.canonical()
        assert (f"{unit}/ingress-{name}.yaml" in example.objects) is ingress
    tenant = example.specs.tenant("quant-research").tenant
    assert "omar@example.com" not in tenant.user_members() and "omar@example.com" in tenant.notebook_users()
