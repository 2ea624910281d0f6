"""Changes waiting for a person: list them with their reason, approve or reject one or a whole decision.

A verdict is *published* (``BudgetChangeReviewed`` on ``budget.reviews.v1``), not applied here: the
executor instance that owns the change's group applies it in order with the group's requests, an
approved change passes the guardrails like any other, and the outcome lands in the audit trail
and on ``budget.outcomes.v1``. The route answers 202 once the broker acked the verdict, with the
audit row written in the same transaction (a failed publish rolls it back: 503, nothing recorded).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from schemas.events import BudgetChangeReviewed
from streams.console.endpoint import ApiError, Call, not_found
from streams.console.render import answer
from streams.core.controls.audit import record_operator_action
from streams.core.web import publish_or_raise

WAITING_SQL = (
    "SELECT h.change_id, h.decision_id, h.group_id, h.campaign_id, h.entity_id, h.currency,"
    " h.previous_budget_minor, h.requested_budget_minor, h.target_budget_minor, h.guardrails, h.reason,"
    " h.decided_at, h.expires_at, d.payload->>'reason' AS decision_reason"
    " FROM ad_change_history h LEFT JOIN sampler_decisions d ON d.decision_id = h.decision_id"
    " WHERE h.tenant_id = $1 AND h.status = 'awaiting_approval'"
)


class VerdictIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verdict: Literal["approve", "reject"]
    reason: str = Field(default="", max_length=500)


async def waiting(call: Call) -> Response:
    async with call.context_of().res.pool.acquire() as conn:
        rows = await conn.fetch(WAITING_SQL + " ORDER BY h.expires_at", call.tenant_id)
    return answer("approvals", {"waiting": [dict(r) for r in rows]})


async def review_change(call: Call) -> Response:
    body = await call.json(VerdictIn)
    async with call.context_of().res.pool.acquire() as conn:
        rows = await conn.fetch(WAITING_SQL + " AND h.change_id = $2", call.tenant_id, call.path("change_id"))
        if not rows:
            await _refuse_settled(conn, call.tenant_id, call.path("change_id"))
    return await _publish(call, body, [dict(r) for r in rows])


async def _refuse_settled(conn: Any, tenant_id: str, change_id: str) -> None:
    """A change that stopped waiting (superseded by a newer decision, expired, reviewed by a colleague) is a
    409 that says what became of it, so the person knows to look at the newer decision rather than retry."""
    row = await conn.fetchrow("SELECT status, superseded_by FROM ad_change_history WHERE tenant_id = $1"
                              " AND change_id = $2", tenant_id, change_id)
    if row is None:
        raise not_found(f"change {change_id} waiting for approval")
    status = str(row["status"])
    detail = f" by {row['superseded_by']}" if status == "superseded" and row["superseded_by"] else ""
    raise ApiError(409, f"change {change_id} no longer waits for approval: it is {status}{detail}", "change_id")


async def review_decision(call: Call) -> Response:
    body = await call.json(VerdictIn)
    async with call.context_of().res.pool.acquire() as conn:
        rows = await conn.fetch(WAITING_SQL + " AND h.decision_id = $2", call.tenant_id, call.path("decision_id"))
    if not rows:
        raise not_found(f"decision {call.path('decision_id')} with changes waiting for approval")
    return await _publish(call, body, [dict(r) for r in rows])


async def _publish(call: Call, body: VerdictIn, rows: list[dict[str, Any]]) -> Response:
    ctx = call.context_of()
    res = ctx.res
    now = res.clock.now()
    if len(call.who.sub) > 128:
        raise ApiError(400, "the token's subject is longer than 128 characters", "sub")
    events = [BudgetChangeReviewed(
        event_id=f"review:{r['change_id']}:{body.verdict}:{call.who.sub}", tenant_id=call.tenant_id, occurred_at=now,
        produced_at=now, change_id=r["change_id"], group_id=r["group_id"], campaign_id=r["campaign_id"],
        entity_id=r["entity_id"], verdict=body.verdict, reviewed_by=call.who.sub, reason=body.reason,
    ) for r in rows]
    async with res.pool.acquire() as conn, conn.transaction():
        for event in events:
            await record_operator_action(conn, call.tenant_id, call.who.sub, f"change.{body.verdict}",
                                         event.entity_id, {"change_id": event.change_id, "reason": body.reason})
        await publish_or_raise(res.publisher, events, ctx.config.publish_timeout_seconds)
    return answer("review", {"verdict": body.verdict, "change_ids": [e.change_id for e in events]}, status=202)
