"""How notebook Ingresses are authenticated: the platform's auth endpoint (e.g. oauth2-proxy),
used by every notebook Ingress through ingress-nginx's external authentication annotations,
with the notebook's member as the only identity let through (compiler/plan/notebook_auth.py)."""
from __future__ import annotations

from pydantic import Field, field_validator

from compiler.model.common import Spec


class NotebookAuth(Spec):
    url: str = Field(description="the auth endpoint ingress-nginx asks for each request (auth-url), e.g. an "
                     "oauth2-proxy's https://auth.example.com/oauth2/auth; the notebook's member is added as "
                     "allowed_emails, so only that identity gets through")
    signin: str = Field(description="where an unauthenticated browser is sent (auth-signin), e.g. "
                        "https://auth.example.com/oauth2/start?rd=https://$host$escaped_request_uri")
    response_headers: list[str] = Field(default_factory=lambda: ["X-Auth-Request-Email"],
                                        description="identity headers the auth endpoint returns, passed to the "
                                        "notebook (auth-response-headers)")

    @field_validator("url", "signin")
    @classmethod
    def _https(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError(f"'{value}' is not an http(s) URL; write e.g. https://auth.example.com/oauth2/auth")
        return value


__all__ = ["NotebookAuth"]
