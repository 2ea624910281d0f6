"""The executor's audit trail, filterable: by outcome, ad set, campaign and time, newest first.

Paged by time (``before`` = the ``decided_at`` of the last row seen), so the trail of a busy
tenant is read a page at a time on the ``(tenant_id, decided_at)`` index, never counted or offset.
The executor's raw platform replies stay in its table.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, get_args

from starlette.responses import Response

from schemas.events import SettlementOutcome
from streams.console.endpoint import ApiError, Call
from streams.console.period import period_of
from streams.console.render import answer
from streams.console.tenants import today

OUTCOMES = (*get_args(SettlementOutcome), "executing")
COLUMNS = (
    "change_id, decision_id, group_id, campaign_id, entity_id, source, requested_by, reason, status, dry_run,"
    " currency, requested_budget_minor, previous_budget_minor, target_budget_minor, applied_budget_minor, clamped,"
    " guardrails, attempts, error, superseded_by, reviewed_by, review_reason, requested_at, decided_at, settled_at,"
    " expires_at"
)


async def changes(call: Call) -> Response:
    res = call.context_of().res
    params = call.request.query_params
    period = period_of(call, today(call), default_days=30)
    where = ["tenant_id = $1", "decided_at >= $2", "decided_at < $3"]
    args: list[Any] = [call.tenant_id, period.start, period.end]
    outcome = params.get("outcome")
    if outcome:
        if outcome not in OUTCOMES:
            raise ApiError(400, f"outcome must be one of {', '.join(OUTCOMES)}", "outcome")
        args.append(outcome)
        where.append(f"status = ${len(args)}")
    for name in ("entity_id", "campaign_id", "group_id", "decision_id"):
        value = params.get(name)
        if value:
            if len(value) > 200:
                raise ApiError(400, f"{name} is too long", name)
            args.append(value)
            where.append(f"{name} = ${len(args)}")
    before = params.get("before")
    if before:
        try:
            at = datetime.fromisoformat(before)
        except ValueError:
            raise ApiError(400, "before must be an ISO 8601 time", "before") from None
        args.append(at if at.tzinfo else at.replace(tzinfo=UTC))
        where.append(f"decided_at < ${len(args)}")
    limit = call.query_int("limit", 100, 1, 500)
    args.append(limit)
    async with res.pool.acquire() as conn:
        rows = await conn.fetch(f"SELECT {COLUMNS} FROM ad_change_history WHERE {' AND '.join(where)}"
                                f" ORDER BY decided_at DESC LIMIT ${len(args)}", *args)
    items = [dict(r) for r in rows]
    more = items[-1]["decided_at"].isoformat() if len(items) == limit else None
    return answer("changes", {"period": period.as_dict(), "changes": items, "next_before": more})
