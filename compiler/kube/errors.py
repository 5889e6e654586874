"""Every way talking to an API server can fail, as one hierarchy.

    KubeError                    catch this to handle any failure of this package
    ├── ConfigError              the kubeconfig, a context or its credentials cannot be used
    │                            (also a compiler.errors.UserError: the CLI prints it, no traceback)
    ├── Unreachable              no HTTP answer (refused, reset, dropped, timed out, TLS),
    │                            even after retrying within the client's budget
    └── ApiError                 the API server answered with an error status; `.message` is
                                 its own explanation, `.status`, `.reason`, `.causes` the rest
          .not_found             404
          .conflict              409: a server-side apply conflict (fields another field
                                 manager owns), a failed delete precondition, or AlreadyExists
          .immutable             422 "field is immutable"
          .missing_namespace     404 because the object's namespace does not exist
          .transient             408, 429, 5xx (compiler.agent.retry): retried until the
                                 budget is spent, so seen only when it was

The agent (compiler/agent/kubeapi.py) keeps a twin of this tree for its import-free client.
"""
from __future__ import annotations

import json

from compiler.agent.retry import is_transient_status
from compiler.errors import UserError


class KubeError(Exception):
    """Base of the errors compiler.kube raises."""


class ConfigError(KubeError, UserError):
    """The kubeconfig, the context or its credentials cannot be used: a setup problem."""


class Unreachable(KubeError):
    """No HTTP answer (refused, reset, timed out) even after retrying."""


class ApiError(KubeError):
    """The API server answered with an error status; `message` is its own explanation."""

    def __init__(self, status: int, method: str, path: str, body: dict | None, text: str = ""):
        self.status = status
        self.method = method
        self.path = path
        self.body = body or {}
        self.reason = self.body.get("reason", "")
        self.message = self.body.get("message") or text[:300] or f"HTTP {status}"
        super().__init__(f"{method} {path}: HTTP {status}: {self.message}")

    @classmethod
    def from_response(cls, status: int, method: str, path: str, data: bytes) -> ApiError:
        """The error of an answer whose body is a Status object (or, rarely, plain text)."""
        try:
            parsed = json.loads(data)
        except ValueError:
            parsed = None
        return cls(status, method, path, parsed if isinstance(parsed, dict) else None,
                   data.decode(errors="replace"))

    @property
    def causes(self) -> list[dict]:
        return list((self.body.get("details") or {}).get("causes") or [])

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        """409: fields owned by another manager, a failed precondition, or AlreadyExists."""
        return self.status == 409

    @property
    def immutable(self) -> bool:
        return self.status == 422 and "field is immutable" in self.message

    @property
    def missing_namespace(self) -> bool:
        details = self.body.get("details") or {}
        return self.status == 404 and details.get("kind") == "namespaces"

    @property
    def transient(self) -> bool:
        return is_transient_status(self.status)
