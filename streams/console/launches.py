"""Launching on Meta through the operator API: ask for a campaign, an ad set or an ad; read what became of it.

- ``POST /v1/tenants/{t}/launches`` (EDITOR): one creation request, validated here so a mistake is
  a 400/422 naming the field (``spec.daily_budget_minor``, ``spec.asset_id``, ``account_id`` ...)
  rather than a failure minutes later; then published on ``launch.requests.v1`` for the launcher,
  audited with the caller's ``sub`` in the transaction that commits only once the broker acked.
  Answers 202 with the ``request_id``. A ``request_id`` already known answers 200 with its status
  and publishes nothing: a client may retry a POST safely.
- ``GET /v1/tenants/{t}/launches/{request_id}`` (VIEWER): status, created Meta ids, error.

Checks: the ad account is one the tenant stored (or the deployment's ``META_AD_ACCOUNT_ID``; with no
credentials anywhere every launch is a dry run and any account will do); an ad set's daily budget
is at least the guardrails' platform minimum for its campaign and at most its group's total daily
budget when one is set; an ad's asset exists in the library and is an image or a video (a video
needs ``thumbnail_url``); a parent named by ``*_request_id`` is a launch this tenant asked for.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from schemas.envelope import EventId
from schemas.launch import AdSetSpec, AdSpec, LaunchRequested, LaunchSpec, LaunchStatus
from streams.assets import AssetLibrary, AssetNotFound
from streams.console.endpoint import ApiError, Call, not_found
from streams.console.op import Op
from streams.core.controls import ad_accounts
from streams.core.controls.audit import record_operator_action
from streams.core.controls.group_budgets import group_budget
from streams.core.controls.limits import guardrail_settings, load_limits
from streams.core.db import Conn
from streams.core.storage import open_storage
from streams.core.web import json_response, publish_or_raise

LAUNCHES = "/v1/tenants/{tenant_id}/launches"
COLUMNS = ("request_id, account_id, kind, status, requested_by, created, error, requested_at, settled_at")


class LaunchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: EventId | None = Field(default=None, description="Your idempotency key; generated if absent")
    account_id: str = Field(pattern=r"^act_[0-9]{1,20}$", description="The Meta ad account, act_<digits>")
    status: LaunchStatus = Field(default="PAUSED", description="Created PAUSED unless ACTIVE is asked")
    spec: LaunchSpec


def _view(row: Any) -> dict[str, Any]:
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in dict(row).items()}


async def _check_account(call: Call, conn: Conn, account: str) -> None:
    core = call.context_of().res.settings
    stored = {a["account_id"] for a in await ad_accounts.list_accounts(conn, call.tenant_id)}
    allowed = stored | ({core.meta_ad_account_id} if core.meta_ad_account_id else set())
    anything = bool(stored) or core.meta_access_token is not None
    if anything and ad_accounts.normalise(account) not in {ad_accounts.normalise(a) for a in allowed}:
        raise ApiError(422, f"account_id: {account} is not one of this tenant's ad accounts", "account_id")


async def _parent_known(conn: Conn, tenant_id: str, request_id: str | None, field: str) -> None:
    # the audit row exists from the moment the parent was accepted, before the launcher has read it
    if request_id is not None and not await conn.fetchval(
            "SELECT true FROM operator_audit WHERE tenant_id = $1 AND action = 'launch_requested' AND target = $2"
            " LIMIT 1", tenant_id, request_id):
        raise ApiError(422, f"spec.{field}: no launch request {request_id!r} in this tenant", f"spec.{field}")


async def _check_budget(conn: Conn, tenant_id: str, spec: AdSetSpec) -> None:
    campaign = spec.campaign_id or ""
    limits = await load_limits(conn, guardrail_settings(), tenant_id, campaign, "")
    field = "spec.daily_budget_minor"
    if spec.daily_budget_minor < limits.platform_min_budget_minor:
        raise ApiError(422, f"{field}: {spec.daily_budget_minor} is below the minimum daily budget "
                            f"{limits.platform_min_budget_minor}", field)
    group = await conn.fetchval("SELECT group_id FROM entity_groups WHERE tenant_id = $1 AND entity_id = $2",
                                tenant_id, campaign) or campaign
    total = await group_budget(conn, tenant_id, group) if campaign else None
    if total is not None and spec.daily_budget_minor > total.total_daily_budget_minor:
        raise ApiError(422, f"{field}: {spec.daily_budget_minor} is above group {group}'s total daily budget "
                            f"{total.total_daily_budget_minor}", field)


def _check_asset(call: Call, spec: AdSpec) -> None:
    try:
        record = AssetLibrary(open_storage(call.context_of().res.settings)).get(spec.asset_id)
    except AssetNotFound:
        raise ApiError(422, f"spec.asset_id: no asset {spec.asset_id!r} in the library", "spec.asset_id") from None
    if record.type not in ("image", "video"):
        raise ApiError(422, f"spec.asset_id: {spec.asset_id} is a {record.type}; an ad needs an image or a video",
                       "spec.asset_id")
    if record.type == "video" and spec.thumbnail_url is None:
        raise ApiError(422, "spec.thumbnail_url: a video ad needs a thumbnail", "spec.thumbnail_url")


async def request_launch(call: Call) -> Response:
    res = call.context_of().res
    body = await call.json(LaunchIn)
    request_id = body.request_id or f"launch-{uuid.uuid4().hex}"
    spec = body.spec
    async with res.pool.acquire() as conn:
        known = await conn.fetchrow(f"SELECT {COLUMNS} FROM launch_requests WHERE tenant_id = $1 AND request_id = $2",
                                    call.tenant_id, request_id)
        if known is not None:
            return json_response("launches", 200, _view(known))
        await _check_account(call, conn, body.account_id)
        if isinstance(spec, AdSetSpec):
            await _parent_known(conn, call.tenant_id, spec.campaign_request_id, "campaign_request_id")
            await _check_budget(conn, call.tenant_id, spec)
        elif isinstance(spec, AdSpec):
            await _parent_known(conn, call.tenant_id, spec.adset_request_id, "adset_request_id")
            _check_asset(call, spec)
        now = res.clock.now()
        event = LaunchRequested(event_id=f"launch-{call.tenant_id}-{request_id}"[:200], tenant_id=call.tenant_id,
                                occurred_at=now, produced_at=now, request_id=request_id, account_id=body.account_id,
                                status=body.status, requested_by=call.who.sub, spec=spec)
        async with conn.transaction():
            await record_operator_action(conn, call.tenant_id, call.who.sub, "launch_requested", request_id,
                                         {"account_id": body.account_id, "status": body.status,
                                          "spec": spec.model_dump(mode="json")})
            await publish_or_raise(res.publisher, [event], call.context_of().config.publish_timeout_seconds)
    return json_response("launches", 202, {"request_id": request_id, "event_id": event.event_id,
                                           "status": "requested"})


async def get_launch(call: Call) -> Response:
    async with call.context_of().res.pool.acquire() as conn:
        row = await conn.fetchrow(f"SELECT {COLUMNS} FROM launch_requests WHERE tenant_id = $1 AND request_id = $2",
                                  call.tenant_id, call.path("request_id"))
    if row is None:
        raise not_found("launch request (or it has not reached the launcher yet)")
    return json_response("launches", 200, _view(row))


ROUTES = (
    Op("POST", LAUNCHES, "EDITOR", request_launch, "Create a campaign, ad set or ad on Meta (PAUSED by default)",
       LaunchIn, ok=202),
    Op("GET", LAUNCHES + "/{request_id}", "VIEWER", get_launch, "What became of a launch request"),
)
