"""The operator API under ``/v1``: read what automation did, steer it, stop it.

Every route verifies a Firebase ID token (:mod:`streams.integrations.firebase`) and a role: VIEWER reads,
EDITOR requests budget changes and edits stage values, ADMIN pauses and resumes automation.
Every write is recorded in ``operator_audit`` with the token's ``sub`` in the same transaction
as the write; a manual budget change is *published* (not applied): it goes through the
executor's guardrails like any other request, and its audit row commits only if the broker acked.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from schemas.codec import describe
from schemas.envelope import EntityId
from schemas.events import BudgetChangeRequested, EntityLevel
from schemas.money import CurrencyCode, Money
from schemas.pipeline import VALUED_STAGES, StageValues
from streams.console import context
from streams.console.reads import campaign_history
from streams.core.controls import killswitch, stage_values
from streams.core.controls.audit import record_operator_action
from streams.core.stage import Resources
from streams.core.web import BodyTooLarge, PublishFailed, error, json_response, publish_or_raise, read_body
from streams.integrations.firebase import AuthError, Forbidden, Principal, bearer

Handler = Callable[[Request, Principal], Awaitable[Response]]


class BudgetChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    campaign_id: EntityId
    group_id: EntityId | None = Field(default=None, description="Allocation group; defaults to the campaign")
    entity_id: EntityId
    entity_level: EntityLevel = "adset"
    daily_budget_minor: int = Field(ge=0)
    currency: CurrencyCode | None = None
    change_id: EntityId | None = None
    reason: str = Field(default="", max_length=500)


class PauseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=500)


def stage_values_body(tenant_id: str, values: StageValues) -> dict[str, Any]:
    return {"tenant_id": tenant_id, "currency": values.currency,
            "stage_values": {stage: values.of(stage) for stage in VALUED_STAGES}}


def guarded(context_of: context.ContextOf, role: str, route: str,
            handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        ctx = context_of()
        if ctx.verifier is None:
            return error(route, 503, "FIREBASE_PROJECT_ID is not configured")
        try:
            principal = await ctx.verifier.verify(bearer(request.headers.get("authorization")))
            principal.require(role, request.path_params.get("tenant_id"))
        except AuthError as exc:
            return error(route, 401, str(exc), {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        except Forbidden as exc:
            return error(route, 403, str(exc))
        return await handler(request, principal)

    return endpoint


async def _json_body(request: Request, limit: int) -> Any:
    body = await read_body(request, limit)
    return json.loads(body or b"{}")


def operator_routes(res: Resources, context_of: context.ContextOf) -> list[Route]:
    history_route = "/v1/tenants/{tenant_id}/campaigns/{campaign_id}/history"
    changes_route = "/v1/tenants/{tenant_id}/budget-changes"
    values_route = "/v1/tenants/{tenant_id}/stage-values"

    async def history(request: Request, _: Principal) -> Response:
        limit = min(max(int(request.query_params.get("limit", "50") or 50), 1), 500)
        tenant, campaign = request.path_params["tenant_id"], request.path_params["campaign_id"]
        body = await campaign_history(res.pool, tenant, campaign, limit)
        if body["budget_changes"] is None and body["decisions"] is None:
            return error(history_route, 503, "no decision or budget-change tables in this deployment yet")
        return json_response(history_route, 200, json.loads(json.dumps(body, default=str)))

    async def request_change(request: Request, who: Principal) -> Response:
        tenant = request.path_params["tenant_id"]
        try:
            change = BudgetChangeIn.model_validate(await _json_body(request, context_of().config.max_body_bytes))
        except (ValueError, BodyTooLarge) as exc:
            message = describe(exc) if isinstance(exc, ValidationError) else "body must be a JSON object"
            return error(changes_route, 400, message)
        ctx = context_of()
        try:
            async with res.pool.acquire() as conn, conn.transaction():
                currency = change.currency or await conn.fetchval(
                    "SELECT currency FROM tenants WHERE tenant_id = $1", tenant) or res.settings.default_currency
                change_id = change.change_id or f"op-{uuid.uuid4().hex}"
                event = BudgetChangeRequested(
                    event_id=f"operator-{change_id}", tenant_id=tenant, occurred_at=res.clock.now(),
                    produced_at=res.clock.now(), change_id=change_id, group_id=change.group_id or change.campaign_id,
                    campaign_id=change.campaign_id, entity_id=change.entity_id, entity_level=change.entity_level,
                    requested_budget=Money(amount_minor=change.daily_budget_minor, currency=currency.strip()),
                    source="operator", requested_by=who.sub, reason=change.reason,
                )
                await record_operator_action(conn, tenant, who.sub, "budget_change_requested", change.entity_id,
                                             change.model_dump() | {"change_id": change_id,
                                                                    "currency": currency.strip()})
                # raising PublishFailed out of the transaction rolls the audit row back with it
                await publish_or_raise(res.publisher, [event], ctx.config.publish_timeout_seconds)
        except PublishFailed:
            return error(changes_route, 503, "broker unavailable, nothing was requested")
        return json_response(changes_route, 202, {"change_id": change_id, "event_id": event.event_id})

    async def get_values(request: Request, _: Principal) -> Response:
        tenant = request.path_params["tenant_id"]
        async with res.pool.acquire() as conn:
            values = await stage_values.get_stage_values(conn, tenant, res.settings.default_currency)
        return json_response(values_route, 200, stage_values_body(tenant, values))

    async def put_values(request: Request, who: Principal) -> Response:
        tenant = request.path_params["tenant_id"]
        try:
            payload = await _json_body(request, context_of().config.max_body_bytes)
        except (ValueError, BodyTooLarge):
            return error(values_route, 400, "body must be a JSON object")
        values = payload.get("stage_values") if isinstance(payload, dict) else None
        if not isinstance(values, dict) or not values:
            return error(values_route, 400, '{"stage_values": {"lead": <minor units>, ...}} expected')
        async with res.pool.acquire() as conn:
            try:  # the revenue module validates, writes and audits (with the actor) in one transaction
                updated = await stage_values.set_stage_values(conn, tenant, values, actor=who.sub,
                                                              default_currency=res.settings.default_currency)
            except ValueError as exc:
                return error(values_route, 400, str(exc))
        return json_response(values_route, 200, stage_values_body(tenant, updated))

    def pause_switch(paused: bool, route: str) -> Handler:
        async def handle(request: Request, who: Principal) -> Response:
            tenant = request.path_params["tenant_id"]
            campaign = request.path_params.get("campaign_id")
            try:
                reason = PauseIn.model_validate(await _json_body(request, context_of().config.max_body_bytes)).reason
            except (ValueError, BodyTooLarge):
                return error(route, 400, 'body must be {"reason": "..."} or empty')
            async with res.pool.acquire() as conn, conn.transaction():
                if paused:
                    await killswitch.pause(conn, tenant, campaign, who.sub, reason)
                    changed = True
                else:
                    changed = await killswitch.resume(conn, tenant, campaign)
                await record_operator_action(conn, tenant, who.sub, "pause" if paused else "resume",
                                             campaign or "", {"reason": reason, "changed": changed})
            return json_response(route, 200, {"tenant_id": tenant, "campaign_id": campaign, "paused": paused,
                                              "changed": changed})

        return handle

    tenant_pause = "/v1/tenants/{tenant_id}/{action}"
    campaign_pause = "/v1/tenants/{tenant_id}/campaigns/{campaign_id}/{action}"
    return [
        Route(history_route, guarded(context_of, "VIEWER", history_route, history), methods=["GET"]),
        Route(changes_route, guarded(context_of, "EDITOR", changes_route, request_change), methods=["POST"]),
        Route(values_route, guarded(context_of, "EDITOR", values_route, get_values), methods=["GET"]),
        Route(values_route, guarded(context_of, "EDITOR", values_route, put_values), methods=["PUT"]),
        Route("/v1/tenants/{tenant_id}/pause",
              guarded(context_of, "ADMIN", tenant_pause, pause_switch(True, tenant_pause)), methods=["POST"]),
        Route("/v1/tenants/{tenant_id}/resume",
              guarded(context_of, "ADMIN", tenant_pause, pause_switch(False, tenant_pause)), methods=["POST"]),
        Route("/v1/tenants/{tenant_id}/campaigns/{campaign_id}/pause",
              guarded(context_of, "ADMIN", campaign_pause, pause_switch(True, campaign_pause)), methods=["POST"]),
        Route("/v1/tenants/{tenant_id}/campaigns/{campaign_id}/resume",
              guarded(context_of, "ADMIN", campaign_pause, pause_switch(False, campaign_pause)), methods=["POST"]),
    ]
