"""What operators read about one campaign: its recent budget changes and allocation decisions.

The columns are named, never ``*``: a budget change's raw platform response stays in the
executor's table, and a VIEWER reads what happened, who asked, why, and what the guardrails did.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from streams.console.endpoint import Call
from streams.core.web import json_response

CHANGE_COLUMNS = (
    "change_id, group_id, campaign_id, entity_id, entity_level, source, requested_by, decision_id, reason, status,"
    " dry_run, currency, requested_budget_minor, target_budget_minor, previous_budget_minor, applied_budget_minor,"
    " clamped, guardrails, attempts, error, superseded_by, requested_at, received_at, decided_at, applied_at,"
    " settled_at"
)


async def campaign_history(call: Call) -> Response:
    """``{"budget_changes": [...], "decisions": [...]}``, newest first, at most ``limit`` of each."""
    res = call.context_of().res
    limit = call.query_int("limit", 50, 1, 500)
    tenant, campaign = call.tenant_id, call.path("campaign_id")
    async with res.pool.acquire() as conn:
        changes = await conn.fetch(
            f"SELECT {CHANGE_COLUMNS} FROM ad_change_history WHERE tenant_id = $1 AND campaign_id = $2"
            " ORDER BY decided_at DESC LIMIT $3", tenant, campaign, limit)
        decisions = await conn.fetch(
            "SELECT decision_id, group_id, decided_at, paused, requests, payload FROM sampler_decisions"
            " WHERE tenant_id = $1 AND (group_id = $2 OR payload->>'campaign_id' = $2)"
            " ORDER BY decided_at DESC LIMIT $3", tenant, campaign, limit)
    body: dict[str, Any] = {"budget_changes": [dict(r) for r in changes], "decisions": [dict(r) for r in decisions]}
    return json_response("history", 200, json.loads(json.dumps(body, default=str)))
