"""Steering that acts at once: a manual budget change (published for the executor) and the kill switch.

A manual budget change is *published*, not applied: it goes through the executor's guardrails like
any other request, and its audit row commits only if the broker acked. The kill switch is a row the
sampler and the executor read before every decision and change.
"""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from schemas.envelope import EntityId
from schemas.events import BudgetChangeRequested, EntityLevel
from schemas.money import MAX_BUDGET_MINOR, CurrencyCode, Money
from streams.console.endpoint import Call, Handler
from streams.core.controls import killswitch
from streams.core.controls.audit import record_operator_action
from streams.core.web import json_response, publish_or_raise


class BudgetChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    campaign_id: EntityId
    group_id: EntityId | None = Field(default=None, description="Allocation group; defaults to the campaign")
    entity_id: EntityId
    entity_level: EntityLevel = "adset"
    daily_budget_minor: int = Field(ge=0, le=MAX_BUDGET_MINOR, strict=True, description="Minor units")
    currency: CurrencyCode | None = None
    change_id: EntityId | None = None
    reason: str = Field(default="", max_length=500)


class PauseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=500)


async def request_change(call: Call) -> Response:
    res = call.context_of().res
    change = await call.json(BudgetChangeIn)
    tenant = call.tenant_id
    async with res.pool.acquire() as conn, conn.transaction():
        currency = change.currency or await conn.fetchval(
            "SELECT currency FROM tenants WHERE tenant_id = $1", tenant) or res.settings.default_currency
        change_id = change.change_id or f"op-{uuid.uuid4().hex}"
        event = BudgetChangeRequested(
            event_id=f"operator-{change_id}", tenant_id=tenant, occurred_at=res.clock.now(),
            produced_at=res.clock.now(), change_id=change_id, group_id=change.group_id or change.campaign_id,
            campaign_id=change.campaign_id, entity_id=change.entity_id, entity_level=change.entity_level,
            requested_budget=Money(amount_minor=change.daily_budget_minor, currency=currency.strip()),
            source="operator", requested_by=call.who.sub, reason=change.reason,
        )
        await record_operator_action(conn, tenant, call.who.sub, "budget_change_requested", change.entity_id,
                                     change.model_dump() | {"change_id": change_id, "currency": currency.strip()})
        # raising PublishFailed out of the transaction rolls the audit row back with it
        await publish_or_raise(res.publisher, [event], call.context_of().config.publish_timeout_seconds)
    return json_response("budget-changes", 202, {"change_id": change_id, "event_id": event.event_id})


def kill_switch(paused: bool) -> Handler:
    async def handle(call: Call) -> Response:
        res = call.context_of().res
        campaign = call.request.path_params.get("campaign_id")
        reason = (await call.json(PauseIn, allow_empty=True)).reason
        async with res.pool.acquire() as conn, conn.transaction():
            if paused:
                await killswitch.pause(conn, call.tenant_id, campaign, call.who.sub, reason)
                changed = True
            else:
                changed = await killswitch.resume(conn, call.tenant_id, campaign)
            await record_operator_action(conn, call.tenant_id, call.who.sub, "pause" if paused else "resume",
                                         campaign or "", {"reason": reason, "changed": changed})
        return json_response("kill-switch", 200, {"tenant_id": call.tenant_id, "campaign_id": campaign,
                                                  "paused": paused, "changed": changed})

    return handle
