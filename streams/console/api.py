"""The operator API under ``/v1``: the whole route table, its Starlette routes and its OpenAPI paths.

Every route is an :class:`Op`: method, path, the role it needs (VIEWER < EDITOR < ADMIN), the
handler, and for writes the body model. The Starlette routes (each behind
:func:`streams.console.endpoint.endpoint`: token, CSRF, role, errors) and the OpenAPI description
are both built from this one table, so the document cannot list a route the server lacks or
describe a body the handler does not validate. Every write is audited with the caller's ``sub``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from streams.console import (
    ad_accounts,
    alerts,
    approvals,
    audit,
    controls,
    decisions,
    groups,
    health,
    launches,
    priors,
    reads,
    steering,
    tenants,
)
from streams.console.context import ContextOf
from streams.console.endpoint import Endpoint, endpoint
from streams.console.op import Op
from streams.core.openapi import FIREBASE, body, path_params, responses

TENANT = "/v1/tenants/{tenant_id}"
CAMPAIGN = TENANT + "/campaigns/{campaign_id}"
GROUP = TENANT + "/groups/{group_id}"
PERIOD = ("days", "from", "to")

ROUTES: Sequence[Op] = (
    # who and where
    Op("GET", "/v1/me", "VIEWER", tenants.me, "The caller: subject, role, tenants"),
    Op("GET", "/v1/tenants", "VIEWER", tenants.tenants, "Tenants the caller may see"),
    # what a person sees
    Op("GET", TENANT + "/overview", "VIEWER", tenants.overview, "A tenant's groups, money and waiting changes",
       query=PERIOD),
    Op("GET", GROUP, "VIEWER", groups.group_page, "A group's ad sets, beliefs, budgets and their history",
       query=PERIOD),
    Op("GET", GROUP + "/decisions", "VIEWER", decisions.group_decisions, "A group's decisions", query=("limit",)),
    Op("GET", TENANT + "/decisions/{decision_id}", "VIEWER", decisions.decision, "Why a decision moved budget"),
    Op("GET", TENANT + "/winners", "VIEWER", priors.winners,
       "Past winners most like an ad set, with their pipeline ROAS", query=("similar_to", "k")),
    Op("POST", TENANT + "/predict", "VIEWER", priors.predict,
       "Predicted CTR/CVR and the prior pipeline ROAS a creative would start from", priors.PredictIn),
    Op("GET", TENANT + "/changes", "VIEWER", audit.changes, "The audit trail of budget changes",
       query=(*PERIOD, "outcome", "entity_id", "campaign_id", "group_id", "decision_id", "before", "limit")),
    Op("GET", CAMPAIGN + "/history", "VIEWER", reads.campaign_history, "Recent changes and decisions",
       query=("limit",)),
    Op("GET", TENANT + "/approvals", "VIEWER", approvals.waiting, "Changes waiting for a person"),
    Op("GET", TENANT + "/health", "VIEWER", health.health,
       "Consumer lag, dead letters, changes left executing, insights, alert channels"),
    Op("GET", TENANT + "/automation", "VIEWER", controls.get_automation, "The tenant's automation mode"),
    Op("GET", CAMPAIGN + "/automation", "VIEWER", controls.get_automation, "A campaign's automation mode"),
    Op("GET", TENANT + "/limits", "VIEWER", controls.get_limits, "The tenant's guardrail limits"),
    Op("GET", CAMPAIGN + "/limits", "VIEWER", controls.get_limits, "A campaign's guardrail limits"),
    Op("GET", TENANT + "/stage-values", "VIEWER", controls.get_stage_values, "Pipeline-stage values"),
    # what a person changes
    Op("POST", TENANT + "/budget-changes", "EDITOR", steering.request_change,
       "Request a manual budget change, subject to guardrails", steering.BudgetChangeIn, ok=202),
    Op("PUT", TENANT + "/stage-values", "EDITOR", controls.put_stage_values, "Set pipeline-stage values",
       controls.StageValuesIn),
    Op("POST", TENANT + "/approvals/{change_id}", "EDITOR", approvals.review_change,
       "Approve or reject a waiting change", approvals.VerdictIn, ok=202),
    Op("POST", TENANT + "/decisions/{decision_id}/approval", "EDITOR", approvals.review_decision,
       "Approve or reject every waiting change of a decision", approvals.VerdictIn, ok=202),
    Op("PUT", GROUP + "/budget", "ADMIN", controls.put_group_budget, "Set a group's total daily budget",
       controls.GroupBudgetIn),
    Op("PUT", TENANT + "/entities/{entity_id}/bounds", "ADMIN", controls.put_bounds,
       "Set an ad set's floor and cap", controls.BoundsIn),
    Op("PUT", TENANT + "/limits", "ADMIN", controls.put_limits, "Override guardrail limits for the tenant",
       controls.LimitsIn),
    Op("PUT", CAMPAIGN + "/limits", "ADMIN", controls.put_limits, "Override guardrail limits for a campaign",
       controls.LimitsIn),
    Op("PUT", TENANT + "/automation", "EDITOR", controls.put_automation, "Set the tenant's automation mode",
       controls.AutomationIn),
    Op("PUT", CAMPAIGN + "/automation", "EDITOR", controls.put_automation, "Set a campaign's automation mode",
       controls.AutomationIn),
    Op("DELETE", CAMPAIGN + "/automation", "EDITOR", controls.delete_campaign_automation,
       "A campaign follows its tenant's mode again"),
    Op("POST", TENANT + "/pause", "ADMIN", steering.kill_switch(True), "Pause automation (kill switch)",
       steering.PauseIn),
    Op("POST", TENANT + "/resume", "ADMIN", steering.kill_switch(False), "Resume automation", steering.PauseIn),
    Op("POST", CAMPAIGN + "/pause", "ADMIN", steering.kill_switch(True), "Pause a campaign's automation",
       steering.PauseIn),
    Op("POST", CAMPAIGN + "/resume", "ADMIN", steering.kill_switch(False), "Resume a campaign's automation",
       steering.PauseIn),
    *alerts.ROUTES,
    *ad_accounts.ROUTES,
    *launches.ROUTES,
)


def operator_routes(context_of: ContextOf, extra: Sequence[Op] = ()) -> list[Route]:
    """Starlette routes for :data:`ROUTES` (and ``extra`` groups), each behind :func:`endpoint`."""
    by_path: dict[str, dict[str, Op]] = {}
    for op in (*ROUTES, *extra):
        by_path.setdefault(op.path, {})[op.method] = op
    return [Route(path, _dispatch(context_of, path, ops), methods=list(ops)) for path, ops in by_path.items()]


def _dispatch(context_of: ContextOf, path: str, ops: dict[str, Op]) -> Endpoint:
    guarded = {m: endpoint(context_of, op.role, path, op.handler) for m, op in ops.items()}

    async def serve(request: Request) -> Response:
        return await guarded[request.method](request)

    return serve


def openapi_paths(extra: Sequence[Op] = ()) -> dict[str, Any]:
    """The OpenAPI path items of the table (every one needs a Firebase ID token)."""
    paths: dict[str, Any] = {}
    for op in (*ROUTES, *extra):
        params = path_params(*re.findall(r"{(\w+)}", op.path)) + [
            {"name": name, "in": "query", "required": False, "schema": {"type": "string"}} for name in op.query]
        codes = (op.ok, 400, 401, 403, 404, 503) if op.method == "GET" else (op.ok, 400, 401, 403, 404, 409, 413,
                                                                             422, 503)
        operation: dict[str, Any] = {"summary": f"{op.summary} ({op.role})", "security": FIREBASE,
                                     "parameters": params, "responses": responses(*sorted(set(codes)))}
        if op.body is not None:
            operation["requestBody"] = body(op.body) | ({"required": False} if op.body is steering.PauseIn else {})
        paths.setdefault(op.path, {})[op.method.lower()] = operation
    return paths
