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

from compiler.model.common import user_handle


def _notebooks(example):
    for spec in example.specs.tenants:
        tenant = spec.tenant
        for nb in tenant.notebooks:
            cluster = nb.cluster or next(iter(tenant.placement))
            yield tenant, nb, f"{cluster}/{tenant.name}", f"nb-{user_handle(nb.user)}"


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
