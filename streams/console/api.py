"""The operator API under ``/v1``: the route table, and the steering routes that publish or switch.

Every route is guarded by :func:`streams.console.endpoint.endpoint` (token, CSRF, role, errors).
Every write is recorded in ``operator_audit`` with the caller's ``sub`` in the same transaction as
the write; a manual budget change is *published* (not applied): it goes through the executor's
guardrails like any other request, and its audit row commits only if the broker acked.

Route groups live in their own modules (reads, settings, approvals, ...) and are listed here once,
so this table is the whole API at a glance.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from schemas.envelope import EntityId
from schemas.events import BudgetChangeRequested, EntityLevel
from schemas.money import CurrencyCode, Money
from schemas.pipeline import VALUED_STAGES, StageValues, ValuedStage
from streams.console import reads
from streams.console.context import ContextOf
from streams.console.endpoint import ApiError, Call, Endpoint, Handler, endpoint
from streams.core.controls import killswitch, stage_values
from streams.core.controls.audit import record_operator_action
from streams.core.web import json_response, publish_or_raise

MinorUnits = Annotated[int, Field(ge=0, le=2**63 - 1)]
"""An amount PostgreSQL's bigint holds: larger ones are a 400 naming the field, not a 500 at the insert."""

RouteSpec = tuple[str, str, str, Handler]
"""(method, path, role, handler)."""


class BudgetChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    campaign_id: EntityId
    group_id: EntityId | None = Field(default=None, description="Allocation group; defaults to the campaign")
    entity_id: EntityId
    entity_level: EntityLevel = "adset"
    daily_budget_minor: MinorUnits
    currency: CurrencyCode | None = None
    change_id: EntityId | None = None
    reason: str = Field(default="", max_length=500)


class PauseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=500)


class StageValuesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stage_values: dict[ValuedStage, MinorUnits] = Field(min_length=1,
                                                            description="Stage -> value in minor units")


def stage_values_body(tenant_id: str, values: StageValues) -> dict[str, object]:
    return {"tenant_id": tenant_id, "currency": values.currency,
            "stage_values": {stage: values.of(stage) for stage in VALUED_STAGES}}


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


async def get_stage_values(call: Call) -> Response:
    res = call.context_of().res
    async with res.pool.acquire() as conn:
        values = await stage_values.get_stage_values(conn, call.tenant_id, res.settings.default_currency)
    return json_response("stage-values", 200, stage_values_body(call.tenant_id, values))


async def put_stage_values(call: Call) -> Response:
    res = call.context_of().res
    body = await call.json(StageValuesIn)
    async with res.pool.acquire() as conn:
        try:  # validates, writes and audits (with the actor) in one transaction
            values: dict[str, int | Money] = {stage: value for stage, value in body.stage_values.items()}
            updated = await stage_values.set_stage_values(conn, call.tenant_id, values, actor=call.who.sub,
                                                          default_currency=res.settings.default_currency)
        except ValueError as exc:
            raise ApiError(400, str(exc), "stage_values") from None
    return json_response("stage-values", 200, stage_values_body(call.tenant_id, updated))


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


TENANT = "/v1/tenants/{tenant_id}"
CAMPAIGN = TENANT + "/campaigns/{campaign_id}"

ROUTES: Sequence[RouteSpec] = (
    ("GET", CAMPAIGN + "/history", "VIEWER", reads.campaign_history),
    ("POST", TENANT + "/budget-changes", "EDITOR", request_change),
    ("GET", TENANT + "/stage-values", "EDITOR", get_stage_values),
    ("PUT", TENANT + "/stage-values", "EDITOR", put_stage_values),
    ("POST", TENANT + "/pause", "ADMIN", kill_switch(True)),
    ("POST", TENANT + "/resume", "ADMIN", kill_switch(False)),
    ("POST", CAMPAIGN + "/pause", "ADMIN", kill_switch(True)),
    ("POST", CAMPAIGN + "/resume", "ADMIN", kill_switch(False)),
)


def operator_routes(context_of: ContextOf, extra: Sequence[RouteSpec] = ()) -> list[Route]:
    """Starlette routes for :data:`ROUTES` (and ``extra`` groups), each behind :func:`endpoint`."""
    by_path: dict[str, dict[str, tuple[str, Handler]]] = {}
    for method, path, role, handler in (*ROUTES, *extra):
        by_path.setdefault(path, {})[method] = (role, handler)
    return [Route(path, _dispatch(context_of, path, methods), methods=list(methods))
            for path, methods in by_path.items()]


def _dispatch(context_of: ContextOf, path: str, methods: dict[str, tuple[str, Handler]]) -> Endpoint:
    guarded = {m: endpoint(context_of, role, path, handler) for m, (role, handler) in methods.items()}

    async def serve(request: Request) -> Response:
        return await guarded[request.method](request)

    return serve
