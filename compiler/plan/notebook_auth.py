"""A notebook Ingress's authentication: ingress-nginx's external authentication annotations
pointing at the platform's auth endpoint, with the notebook's member as the only allowed
identity.

ingress-nginx: `nginx.ingress.kubernetes.io/auth-url` is asked for every request (2xx lets it
through), `auth-signin` is where a 401 sends the browser, `auth-response-headers` are copied
from the auth response to the upstream request
(https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#external-authentication).
oauth2-proxy's `/oauth2/auth` takes `allowed_emails` as a query parameter and answers 403 to an
authenticated user not in it (oauth2-proxy docs/docs/features/endpoints.md, "Auth"), so each
notebook admits its own member only.
"""
from __future__ import annotations

from urllib.parse import quote

from compiler.model.notebook_auth import NotebookAuth

AUTH_URL = "nginx.ingress.kubernetes.io/auth-url"
AUTH_SIGNIN = "nginx.ingress.kubernetes.io/auth-signin"
AUTH_RESPONSE_HEADERS = "nginx.ingress.kubernetes.io/auth-response-headers"


def auth_annotations(auth: NotebookAuth | None, user: str) -> tuple[tuple[str, str], ...]:
    if auth is None:
        return ()
    separator = "&" if "?" in auth.url else "?"
    out = [(AUTH_URL, f"{auth.url}{separator}allowed_emails={quote(user, safe='@')}"), (AUTH_SIGNIN, auth.signin)]
    if auth.response_headers:
        out.append((AUTH_RESPONSE_HEADERS, ",".join(auth.response_headers)))
    return tuple(sorted(out))
