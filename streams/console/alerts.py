"""Alerts in the operator API: list and acknowledge them, tune thresholds and channels, read reports.

- ``GET  /v1/tenants/{t}/alerts`` (VIEWER): alerts, newest first, and how each channel fares (the
  health of delivery: a channel failing since when, with which kind of error);
- ``POST /v1/tenants/{t}/alerts/{alert_id}/acknowledge`` (EDITOR): "someone is on it" - no more
  reminders for this episode (the resolution is still told);
- ``GET/PUT /v1/tenants/{t}/alert-thresholds`` (VIEWER / EDITOR): the thresholds in force and which
  layer set each; a PUT of ``null`` clears an override;
- ``GET /v1/tenants/{t}/alert-channels``, ``PUT .../alert-channels/webhook|email``, ``DELETE
  .../alert-channels/{kind}`` (VIEWER / ADMIN): where alerts go - answered with a hint, never the
  URL or the addresses;
- ``GET /v1/tenants/{t}/reports/daily/{day}`` (VIEWER): the daily report's HTML page.

Every write is audited with the caller's ``sub``; every malformed value is a 400 naming the field,
a stale ``expected_version`` a 409.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import HTMLResponse, Response

from streams.console.endpoint import ApiError, Call, not_found
from streams.console.op import Op
from streams.core.controls import alert_channels as channels
from streams.core.controls.alert_thresholds import alert_thresholds, load_thresholds, save_threshold_overrides
from streams.core.controls.audit import record_operator_action
from streams.core.controls.versioned import StaleVersion
from streams.core.web import json_response
from streams.reports.daily import build_report
from streams.reports.html import render_report

ALERT_COLUMNS = ("alert_id, rule, subject, severity, status, title, detail, facts, episode, raised_at, last_seen_at,"
                 " last_notified_at, resolved_at, acknowledged_by, acknowledged_at")
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
"""The report page runs nothing and loads nothing: its charts are inline SVG."""


class ThresholdsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    thresholds: dict[str, int | float | None] = Field(min_length=1, description="Threshold -> value; null clears it")
    expected_version: int | None = Field(default=None, ge=0, description="The version read (0: none); 409 if stale")


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    webhook_url: str = Field(max_length=2000, description="A Slack-compatible incoming webhook (https)")
    expected_version: int | None = Field(default=None, ge=0)


class EmailIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recipients: list[str] = Field(min_length=1, max_length=channels.MAX_RECIPIENTS)
    expected_version: int | None = Field(default=None, ge=0)


def _json(row: Any) -> dict[str, Any]:
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in dict(row).items()}


async def list_alerts(call: Call) -> Response:
    res = call.context_of().res
    status = call.request.query_params.get("status", "all")
    if status not in ("firing", "resolved", "all"):
        raise ApiError(400, "status must be firing, resolved or all", "status")
    limit = call.query_int("limit", 100, 1, 500)
    async with res.pool.acquire() as conn:
        rows = await conn.fetch(
            f"SELECT {ALERT_COLUMNS} FROM alerts WHERE tenant_id = $1 AND ($2 = 'all' OR status = $2)"
            " ORDER BY status = 'firing' DESC, last_notified_at DESC LIMIT $3", call.tenant_id, status, limit)
        views = await channels.channel_views(conn, call.tenant_id, channels.alert_channel_settings().defaults())
    return json_response("alerts", 200, {"tenant_id": call.tenant_id, "alerts": [_json(r) for r in rows],
                                         "channels": views})


async def acknowledge(call: Call) -> Response:
    res = call.context_of().res
    alert_id = call.path("alert_id")
    async with res.pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow("SELECT status FROM alerts WHERE tenant_id = $1 AND alert_id = $2 FOR UPDATE",
                                  call.tenant_id, alert_id)
        if row is None:
            raise not_found("alert")
        if row["status"] != "firing":
            raise ApiError(409, "the alert is resolved already: nothing to acknowledge", "alert_id")
        acked = await conn.fetchrow(
            f"UPDATE alerts SET acknowledged_by = $3, acknowledged_at = $4 WHERE tenant_id = $1 AND alert_id = $2"
            f" RETURNING {ALERT_COLUMNS}", call.tenant_id, alert_id, call.who.sub, res.clock.now())
        await record_operator_action(conn, call.tenant_id, call.who.sub, "alert.acknowledge", alert_id, {})
    return json_response("alerts", 200, _json(acked))


async def get_thresholds(call: Call) -> Response:
    async with call.context_of().res.pool.acquire() as conn:
        th = await load_thresholds(conn, alert_thresholds(), call.tenant_id)
    return json_response("alert-thresholds", 200, {"tenant_id": call.tenant_id, **th.as_dict()})


async def put_thresholds(call: Call) -> Response:
    body = await call.json(ThresholdsIn)
    async with call.context_of().res.pool.acquire() as conn:
        try:
            await save_threshold_overrides(conn, call.tenant_id, body.thresholds, call.who.sub, body.expected_version)
        except ValueError as exc:
            field = str(exc).split(":", 1)[0]
            raise ApiError(400, str(exc), f"thresholds.{field}" if field in body.thresholds else "thresholds") from None
        except StaleVersion as exc:
            raise ApiError(409, str(exc), "expected_version") from None
        th = await load_thresholds(conn, alert_thresholds(), call.tenant_id)
    return json_response("alert-thresholds", 200, {"tenant_id": call.tenant_id, **th.as_dict()})


async def get_channels(call: Call) -> Response:
    async with call.context_of().res.pool.acquire() as conn:
        views = await channels.channel_views(conn, call.tenant_id, channels.alert_channel_settings().defaults())
    return json_response("alert-channels", 200, {"tenant_id": call.tenant_id, "channels": views})


async def _save_channel(call: Call, kind: channels.ChannelKind, destination: Any, expected: int | None) -> Response:
    res = call.context_of().res
    async with res.pool.acquire() as conn:
        try:
            await channels.save_channel(conn, channels.Sealer(res.settings.hash_key), call.tenant_id, kind,
                                        destination, call.who.sub, expected)
        except StaleVersion as exc:
            raise ApiError(409, str(exc), "expected_version") from None
    return await get_channels(call)


async def put_webhook(call: Call) -> Response:
    body = await call.json(WebhookIn)
    try:
        url = channels.check_webhook_url(body.webhook_url,
                                         allow_local=channels.alert_channel_settings().allow_local_webhooks)
    except ValueError as exc:
        raise ApiError(400, str(exc), "webhook_url") from None
    return await _save_channel(call, "webhook", url, body.expected_version)


async def put_email(call: Call) -> Response:
    body = await call.json(EmailIn)
    try:
        recipients = channels.check_recipients(body.recipients)
    except ValueError as exc:
        raise ApiError(400, str(exc), str(exc).split(":", 1)[0]) from None
    return await _save_channel(call, "email", recipients, body.expected_version)


async def delete_channel(call: Call) -> Response:
    kind = call.path("kind")
    if kind not in channels.KINDS:
        raise not_found("channel")
    async with call.context_of().res.pool.acquire() as conn:
        await channels.remove_channel(conn, call.tenant_id, kind, call.who.sub)
    return await get_channels(call)


async def daily_report(call: Call) -> Response:
    try:
        day = date.fromisoformat(call.path("day"))
    except ValueError:
        raise ApiError(400, "day must be a date, YYYY-MM-DD", "day") from None
    res = call.context_of().res
    async with res.pool.acquire() as conn:
        page = await conn.fetchval("SELECT html FROM daily_reports WHERE tenant_id = $1 AND day = $2",
                                   call.tenant_id, day)
        if page is None:  # not sent (yet): the same page, made now
            page = render_report(await build_report(conn, call.tenant_id, day, res.settings.default_currency))
    return HTMLResponse(page, headers={"Content-Security-Policy": REPORT_CSP, "X-Content-Type-Options": "nosniff"})


TENANT = "/v1/tenants/{tenant_id}"
ROUTES: Sequence[Op] = (
    Op("GET", TENANT + "/alerts", "VIEWER", list_alerts, "Alerts, newest first, and the channels' health"),
    Op("POST", TENANT + "/alerts/{alert_id}/acknowledge", "EDITOR", acknowledge,
       "Acknowledge a firing alert: no more reminders"),
    Op("GET", TENANT + "/alert-thresholds", "VIEWER", get_thresholds, "Alert thresholds in force and their layer"),
    Op("PUT", TENANT + "/alert-thresholds", "EDITOR", put_thresholds, "Override (or with null clear) alert thresholds",
       ThresholdsIn),
    Op("GET", TENANT + "/alert-channels", "VIEWER", get_channels, "Where alerts go, as hints"),
    Op("PUT", TENANT + "/alert-channels/webhook", "ADMIN", put_webhook, "Set the Slack-compatible webhook", WebhookIn),
    Op("PUT", TENANT + "/alert-channels/email", "ADMIN", put_email, "Set the e-mail recipients", EmailIn),
    Op("DELETE", TENANT + "/alert-channels/{kind}", "ADMIN", delete_channel, "Remove a channel"),
    Op("GET", TENANT + "/reports/daily/{day}", "VIEWER", daily_report, "The daily report as an HTML page"),
)
