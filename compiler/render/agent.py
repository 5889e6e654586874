"""The agent's account in each tenant: exactly the permissions tenantc-agent declares it uses
(compiler.agent.permissions, checked against the API server's audit log in tests)."""
from __future__ import annotations

from compiler.agent.contract import SIDECAR, WAIT_DATASET
from compiler.agent.permissions import rules_for
from compiler.render.context import TenantContext
from compiler.render.pods import AGENT_SERVICE_ACCOUNT
from compiler.render.rbac import account


def render(ctx: TenantContext) -> list[dict]:
    return account(ctx, AGENT_SERVICE_ACCOUNT, rules_for(SIDECAR, WAIT_DATASET))
