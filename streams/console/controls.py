"""What a person changes: budgets, bounds, guardrail limits, automation modes, stage values.

Each write goes through the module that owns the rule (:mod:`streams.core.controls`), which
validates it, writes it with an audit row carrying the caller's ``sub``, and bumps its version.
Here a rule's ``ValueError`` ("field: what is wrong") becomes a 422 naming the field, and a stale
``expected_version`` - someone saved in between - a 409 with the version now stored.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt
from starlette.responses import Response

from schemas.money import Money
from schemas.pipeline import VALUED_STAGES, StageValues, ValuedStage
from streams.console.endpoint import ApiError, Call
from streams.console.render import answer
from streams.console.tenants import currency_of
from streams.core.controls import stage_values
from streams.core.controls.automation import Mode, automation_for, clear_campaign_automation, save_automation
from streams.core.controls.group_budgets import MAX_TOTAL_MINOR, save_group_budget
from streams.core.controls.limit_overrides import save_entity_bounds, save_override
from streams.core.controls.limits import OVERRIDABLE, guardrail_settings, load_layers
from streams.core.controls.versioned import StaleVersion
from streams.core.db import Conn

T = TypeVar("T")
Minor = Annotated[int, Field(ge=0, le=MAX_TOTAL_MINOR)]
"""An amount in minor units: bounded, so a huge one is a 400 naming the field, not a 500 at the insert."""


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expected_version: NonNegativeInt | None = Field(default=None, description="The version you read; 409 if stale")


class GroupBudgetIn(_In):
    total_daily_budget_minor: Minor


class BoundsIn(_In):
    floor_minor: Minor | None = Field(default=None)
    cap_minor: Minor | None = Field(default=None)


class LimitsIn(_In):
    max_changes_per_entity_hour: NonNegativeInt | None = None
    max_actions_per_campaign_hour: NonNegativeInt | None = None
    max_change_fraction: float | None = Field(default=None, ge=0, le=10)
    change_window_hours: float | None = Field(default=None, gt=0, le=168)
    policy: str | None = Field(default=None, pattern="^(clamp|block)$")
    platform_min_budget_minor: Minor | None = Field(default=None)


class AutomationIn(_In):
    mode: Mode
    approval_threshold_pct: float | None = Field(default=None, ge=0, le=1000)
    approval_ttl_hours: float | None = Field(default=None, gt=0, le=720)


class StageValuesIn(_In):
    stage_values: dict[ValuedStage, Minor] = Field(min_length=1, description="Stage -> value in minor units")


async def _guarded(write: Awaitable[T]) -> T:
    """Run a rule's write: ValueError -> 422 naming the field, StaleVersion -> 409."""
    try:
        return await write
    except StaleVersion as exc:
        raise ApiError(409, str(exc), "expected_version") from None
    except ValueError as exc:
        field, _, _ = str(exc).partition(":")
        raise ApiError(422, str(exc), field if field.isidentifier() else None) from None


async def _written(call: Call, route: str, work: Callable[[Conn], Awaitable[Any]]) -> Response:
    async with call.context_of().res.pool.acquire() as conn:
        result = await _guarded(work(conn))
    return answer(route, result if isinstance(result, dict) else {"version": result})


async def put_group_budget(call: Call) -> Response:
    body = await call.json(GroupBudgetIn)
    tenant, group = call.tenant_id, call.path("group_id")
    res = call.context_of().res
    defaults = guardrail_settings()

    async def work(conn: Conn) -> int:
        currency = await currency_of(conn, tenant, res.settings.default_currency)
        rows = await conn.fetch(
            "SELECT s.min_budget_minor, l.floor_minor FROM sampler_entities s LEFT JOIN executor_entity_limits l"
            " ON l.tenant_id = s.tenant_id AND l.entity_id = s.entity_id WHERE s.tenant_id = $1 AND s.group_id = $2",
            tenant, group)
        minimum = sum(max(r["min_budget_minor"], defaults.platform_min_budget_minor, r["floor_minor"] or 0)
                      for r in rows)
        return await save_group_budget(conn, tenant, group, body.total_daily_budget_minor, currency, call.who.sub,
                                       minimum_total_minor=minimum, expected_version=body.expected_version)

    return await _written(call, "group-budget", work)


async def put_bounds(call: Call) -> Response:
    body = await call.json(BoundsIn)
    changes = body.model_dump(include=set(body.model_fields_set) - {"expected_version"})
    if not changes:
        raise ApiError(400, "give floor_minor or cap_minor (null clears one)", "floor_minor")
    return await _written(call, "entity-bounds", lambda conn: save_entity_bounds(
        conn, call.tenant_id, call.path("entity_id"), changes, call.who.sub, body.expected_version))


async def get_limits(call: Call) -> Response:
    campaign = call.request.path_params.get("campaign_id", "")
    async with call.context_of().res.pool.acquire() as conn:
        layers = await load_layers(conn, call.tenant_id, campaign, "")
    own = layers.campaign if campaign else layers.tenant
    return answer("limits", {"tenant_id": call.tenant_id, "campaign_id": campaign or None,
                             "effective": layers.limits(guardrail_settings()).as_dict(), "sources": layers.sources(),
                             "override": own.as_dict() if own else {},
                             "version": layers.versions.get("campaign" if campaign else "tenant", 0)})


async def put_limits(call: Call) -> Response:
    body = await call.json(LimitsIn)
    changes = body.model_dump(include=set(body.model_fields_set) & set(OVERRIDABLE))
    if not changes:
        raise ApiError(400, f"give one of {', '.join(OVERRIDABLE)} (null clears one)", "change_window_hours")
    campaign = call.request.path_params.get("campaign_id", "")
    return await _written(call, "limits", lambda conn: save_override(
        conn, call.tenant_id, campaign, changes, call.who.sub, body.expected_version))


async def get_automation(call: Call) -> Response:
    campaign = call.request.path_params.get("campaign_id", "")
    async with call.context_of().res.pool.acquire() as conn:
        mode = await automation_for(conn, call.tenant_id, campaign)
    own = mode.scope == ("campaign" if campaign else "tenant")
    return answer("automation", mode.as_dict() | {"version": mode.version if own else 0})


async def put_automation(call: Call) -> Response:
    body = await call.json(AutomationIn)
    campaign = call.request.path_params.get("campaign_id", "")
    return await _written(call, "automation", lambda conn: save_automation(
        conn, call.tenant_id, campaign, body.mode, call.who.sub,
        approval_threshold_pct=Decimal(str(body.approval_threshold_pct)) if body.approval_threshold_pct is not None
        else None,
        approval_ttl_hours=Decimal(str(body.approval_ttl_hours)) if body.approval_ttl_hours is not None else None,
        expected_version=body.expected_version))


async def delete_campaign_automation(call: Call) -> Response:
    async with call.context_of().res.pool.acquire() as conn:
        removed = await clear_campaign_automation(conn, call.tenant_id, call.path("campaign_id"), call.who.sub)
    return answer("automation", {"removed": removed})


def _values_body(tenant: str, values: StageValues, version: int) -> dict[str, Any]:
    return {"tenant_id": tenant, "currency": values.currency, "version": version,
            "stage_values": {stage: values.of(stage) for stage in VALUED_STAGES}}


async def get_stage_values(call: Call) -> Response:
    res = call.context_of().res
    async with res.pool.acquire() as conn:
        values = await stage_values.get_stage_values(conn, call.tenant_id, res.settings.default_currency)
        version = await stage_values.stage_values_version(conn, call.tenant_id)
    return answer("stage-values", _values_body(call.tenant_id, values, version))


async def put_stage_values(call: Call) -> Response:
    res = call.context_of().res
    body = await call.json(StageValuesIn)
    values: dict[str, int | Money] = dict(body.stage_values.items())

    async def work(conn: Conn) -> dict[str, Any]:
        updated = await stage_values.set_stage_values(conn, call.tenant_id, values, actor=call.who.sub,
                                                      default_currency=res.settings.default_currency,
                                                      expected_version=body.expected_version)
        return _values_body(call.tenant_id, updated, await stage_values.stage_values_version(conn, call.tenant_id))

    return await _written(call, "stage-values", work)
