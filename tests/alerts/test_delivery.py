"""Delivery: retried with backoff on the stage's clock, a dead channel is told on the other one, and
neither a webhook URL nor an SMTP password reaches a log line or a row."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from pydantic import SecretStr

from streams.core.controls import killswitch
from streams.core.settings import Settings
from streams.lab.dev.ports import free_port
from tests.alerts.conftest import TENANT, Alerts, Sinks, alerts_config, running_alerts
from tests.helpers import wait_until


async def pause(db_pool: asyncpg.Pool[Any], campaign: str = "c1") -> None:
    async with db_pool.acquire() as conn:
        await killswitch.pause(conn, TENANT, campaign, "op-1", "")


async def attempts(db_pool: asyncpg.Pool[Any], rule: str, channel: str) -> int:
    return int(await db_pool.fetchval(
        "SELECT d.attempts FROM alert_deliveries d JOIN alert_notices n USING (event_id)"
        " WHERE n.rule = $1 AND d.channel = $2", rule, channel) or 0)


async def test_a_failing_webhook_is_retried_with_backoff_and_reported_by_email_until_it_recovers(
        alerts: Alerts, sinks: Sinks, db_pool: asyncpg.Pool[Any]) -> None:
    sinks.webhook.fail_with = 500
    await pause(db_pool)
    await alerts.sweep()
    await wait_until(lambda: len(sinks.smtp.messages) == 1)
    await wait_until(lambda: attempts(db_pool, "kill_switch", "webhook"))
    await alerts.deliver()
    assert sinks.webhook.attempts == 1  # the retry waits for its backoff on the stage's clock
    for wait in (61, 121):
        alerts.clock.advance(wait)
        await wait_until(lambda n=sinks.webhook.attempts: sinks.webhook.attempts > n)
    await wait_until(lambda: len(sinks.smtp.messages) == 2)
    assert sinks.smtp.messages[1]["subject"].startswith("🔴 [roasloop acme] Alerts cannot reach the webhook channel")
    assert "http 500" in sinks.smtp.messages[1]["text"]
    views = await db_pool.fetchrow("SELECT consecutive_failures, last_error FROM alert_channel_status"
                                   " WHERE kind = 'webhook'")
    assert tuple(views) == (3, "http 500")
    assert await attempts(db_pool, "channel_unreachable", "webhook") == 0  # never queued on the dead channel

    sinks.webhook.fail_with = None
    alerts.clock.advance(241)
    await wait_until(lambda: len(sinks.webhook.messages) == 2 and len(sinks.smtp.messages) == 3)
    assert [m["text"].split("\n")[0] for m in sinks.webhook.messages] == [
        "*🔵 [roasloop acme] Automation paused for campaign c1*",
        "*✅ [roasloop acme] Resolved: Alerts cannot reach the webhook channel*"]
    assert await alerts.notices("channel_unreachable") == [("channel_unreachable", "raised"),
                                                           ("channel_unreachable", "resolved")]


async def test_an_unreachable_smtp_server_is_reported_on_the_webhook(
        settings: Settings, db_pool: asyncpg.Pool[Any], sinks: Sinks, capfd: pytest.CaptureFixture[str]) -> None:
    await db_pool.execute("INSERT INTO tenants (tenant_id) VALUES ($1)", TENANT)
    config = alerts_config(sinks, smtp_port=free_port(), smtp_username="mailer",
                           smtp_password=SecretStr("hunter2-smtp"), smtp_security="none", channel_failures=2)
    async with running_alerts(settings, db_pool, config) as alerts:
        await pause(db_pool)
        await alerts.sweep()
        await wait_until(lambda: attempts(db_pool, "kill_switch", "email"))
        alerts.clock.advance(61)
        await wait_until(lambda: len(sinks.webhook.messages) == 2)
    assert "Alerts cannot reach the email channel" in sinks.webhook.messages[1]["text"]
    assert "smtp unreachable" in sinks.webhook.messages[1]["text"]
    logs = capfd.readouterr()
    assert "alert_delivery_failed" in logs.err + logs.out
    for secret in ("hunter2-smtp", sinks.webhook.url):
        assert secret not in logs.err + logs.out
    rows = await db_pool.fetch("SELECT * FROM alert_deliveries")
    assert all(sinks.webhook.url not in str(dict(r)) for r in rows)
