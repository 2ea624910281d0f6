"""The delivery loop: sends what the rules queued, retries with backoff, never blocks the stage.

It runs beside the consumers (``res.spawn``) and only ever reads ``alert_deliveries``, so a webhook
that hangs or an SMTP server that is down delays notifications, never the stage's processing.

Each round claims the due rows (``FOR UPDATE SKIP LOCKED``: several replicas share the work) and,
in the claiming transaction, moves each one's ``next_attempt_at`` to its backoff before sending.
A process killed mid-send therefore retries that row after the backoff - at least once, with the
same ``X-Roasloop-Notice-Id`` so a receiver can drop the repeat - and never loses it. A success
marks the row sent; a failure records the kind of failure, and after ``max_attempts`` gives up.

Each tenant's channel is watched: ``channel_failures`` failures in a row raise
``channel_unreachable`` (told on the *other* channel); the next success resolves it. What the
health view shows comes from ``alert_channel_status``.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import httpx
import structlog

from streams.alerts import health
from streams.alerts.senders import Message, SendFailed, post_webhook, send_email
from streams.alerts.settings import AlertsSettings
from streams.alerts.store import CHANNEL_UNREACHABLE, Alerting
from streams.core.controls.alert_channels import Sealer, destinations
from streams.core.metrics import EXTERNAL_API_ERRORS, EXTERNAL_API_SECONDS
from streams.core.stage import Resources

log = structlog.get_logger("roasloop.alerts.delivery")


def backoff(settings: AlertsSettings, attempt: int) -> timedelta:
    """60 s, 120 s, 240 s ... up to the maximum (deterministic: tests and operators can predict it)."""
    return timedelta(seconds=min(settings.retry_max_seconds, settings.retry_base_seconds * 2 ** max(0, attempt - 1)))


class Deliveries:
    def __init__(self, res: Resources, settings: AlertsSettings, alerting: Alerting, sealer: Sealer,
                 http: httpx.AsyncClient) -> None:
        self.res, self.settings, self.alerting, self.sealer, self.http = res, settings, alerting, sealer, http

    async def run(self) -> None:
        while True:
            try:
                await self.round()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("alert_delivery_round_failed")
            await asyncio.sleep(self.settings.delivery_interval_seconds)

    async def claim(self, limit: int = 50) -> list[Any]:
        now = self.res.clock.now()
        async with self.res.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT * FROM alert_deliveries WHERE status = 'pending' AND next_attempt_at <= $1"
                " ORDER BY next_attempt_at, delivery_id LIMIT $2 FOR UPDATE SKIP LOCKED", now, limit)
            for row in rows:
                await conn.execute("UPDATE alert_deliveries SET attempts = attempts + 1, next_attempt_at = $2"
                                   " WHERE delivery_id = $1", row["delivery_id"],
                                   now + backoff(self.settings, row["attempts"] + 1))
        return list(rows)

    async def round(self) -> int:
        """Send every due delivery once; returns how many were sent."""
        rows = await self.claim()
        if not rows:
            return 0
        async with self.res.pool.acquire() as conn:
            found = {t: await destinations(conn, self.sealer, t, self.alerting.defaults)
                     for t in {r["tenant_id"] for r in rows}}
        results = await asyncio.gather(*(self.send(row, found[row["tenant_id"]].get(row["channel"])) for row in rows))
        return sum(results)

    async def send(self, row: Any, destination: Any) -> bool:
        message = Message(row["event_id"], row["subject"], row["body_text"], row["body_html"])
        timeout = self.settings.send_timeout_seconds
        try:
            if destination is None:
                raise SendFailed("channel not configured")
            with EXTERNAL_API_SECONDS.labels(api=f"alerts_{row['channel']}", operation="send").time():
                if row["channel"] == "webhook":
                    await post_webhook(self.http, str(destination), message, timeout)
                else:
                    await send_email(self.settings, list(destination), message, timeout)
        except SendFailed as exc:
            EXTERNAL_API_ERRORS.labels(api=f"alerts_{row['channel']}", code=exc.kind).inc()
            await self.failed(row, exc)
            return False
        await self.sent(row)
        return True

    async def sent(self, row: Any) -> None:
        async with self.res.effects() as fx:
            await fx.conn.execute("UPDATE alert_deliveries SET status = 'sent', sent_at = $2, last_error = NULL"
                                  " WHERE delivery_id = $1", row["delivery_id"], fx.now)
            await fx.conn.execute(
                "INSERT INTO alert_channel_status (tenant_id, kind, consecutive_failures, last_success_at)"
                " VALUES ($1, $2, 0, $3) ON CONFLICT (tenant_id, kind) DO UPDATE SET consecutive_failures = 0,"
                " failing_since = NULL, last_success_at = $3", row["tenant_id"], row["channel"], fx.now)
            await self.alerting.clear(fx, row["tenant_id"], CHANNEL_UNREACHABLE, row["channel"],
                                      health.RESOLVED_NOTE[CHANNEL_UNREACHABLE])
        log.info("alert_delivered", channel=row["channel"], event_id=row["event_id"], tenant_id=row["tenant_id"],
                 attempts=row["attempts"] + 1)

    async def failed(self, row: Any, exc: SendFailed) -> None:
        attempts = row["attempts"] + 1
        gave_up = attempts >= self.settings.max_attempts
        async with self.res.effects() as fx:
            retry_at: datetime | None = None
            if exc.retry_after is not None and not gave_up:
                retry_at = fx.now + max(timedelta(seconds=exc.retry_after), backoff(self.settings, attempts))
            await fx.conn.execute(
                "UPDATE alert_deliveries SET last_error = $2, status = CASE WHEN $3 THEN 'failed' ELSE status END,"
                " next_attempt_at = coalesce($4, next_attempt_at) WHERE delivery_id = $1",
                row["delivery_id"], exc.kind, gave_up, retry_at)
            status = await fx.conn.fetchrow(
                "INSERT INTO alert_channel_status (tenant_id, kind, consecutive_failures, failing_since, last_error,"
                " last_failure_at) VALUES ($1, $2, 1, $3, $4, $3) ON CONFLICT (tenant_id, kind) DO UPDATE SET"
                " consecutive_failures = alert_channel_status.consecutive_failures + 1,"
                " failing_since = coalesce(alert_channel_status.failing_since, $3), last_error = $4,"
                " last_failure_at = $3 RETURNING consecutive_failures, failing_since",
                row["tenant_id"], row["channel"], fx.now, exc.kind)
            assert status is not None  # an upsert with RETURNING answers its row
            if status["consecutive_failures"] >= self.settings.channel_failures:
                await health.channel_failed(self.alerting, fx, row["tenant_id"], row["channel"],
                                            status["consecutive_failures"], status["failing_since"], exc.kind)
        log.warning("alert_delivery_failed", channel=row["channel"], event_id=row["event_id"],
                    tenant_id=row["tenant_id"], attempts=attempts, error=exc.kind, gave_up=gave_up)
