"""The money rules on the real broker and database: each fires once for its condition, not on noise,
re-notifies only after its cooldown, and resolves - and the webhook and the mailbox hear each once."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import asyncpg

from schemas import AlertNotified, decode_as
from schemas.topics import ALERTS
from streams.core.controls.alert_thresholds import save_threshold_overrides
from streams.core.settings import Settings
from tests.alerts.conftest import T0, TENANT, Alerts, Sinks, decision, hours, outcome, revenue, spend
from tests.helpers import read_records, wait_until


async def test_blocked_changes_raise_one_alert_remind_after_the_cooldown_and_resolve(
        alerts: Alerts, sinks: Sinks, settings: Settings, db_pool: asyncpg.Pool[Any]) -> None:
    async with db_pool.acquire() as conn:
        await save_threshold_overrides(conn, TENANT, {"cooldown_seconds": 3600,
                                                      "change_failures_window_seconds": 86_400}, actor="test")
    await alerts.publish(outcome("blocked", at=T0 - hours(5)), outcome("failed", at=T0 - hours(4)),
                         outcome("completed", at=T0 - hours(3.5)))
    await alerts.publish(outcome("blocked", at=T0 - hours(3)))
    assert await alerts.wait_notices(1) == [("change_failures", "raised")]
    await alerts.publish(outcome("blocked", at=T0 - hours(2)))  # still the same condition: no new notice
    await wait_until(lambda: alerts.pool.fetchval("SELECT (facts->>'blocked')::int = 3 FROM alerts"))
    alerts.clock.advance(1800)
    await alerts.sweep()
    assert await alerts.notices() == [("change_failures", "raised")]  # within the cooldown
    alerts.clock.advance(1800)
    await alerts.sweep()
    await alerts.sweep()
    assert await alerts.notices() == [("change_failures", "raised"), ("change_failures", "reminder")]
    alerts.clock.set(T0 + hours(22))  # the window (24 h) no longer holds 3 of them
    await alerts.sweep()
    assert [n for _, n in await alerts.notices()] == ["raised", "reminder", "resolved"]

    await alerts.wait_delivered()
    ids = [r["event_id"] for r in await db_pool.fetch("SELECT event_id FROM alert_notices ORDER BY occurred_at")]
    await wait_until(lambda: len(sinks.webhook.messages) == 3 and len(sinks.smtp.messages) == 3)
    assert sinks.notices("webhook") == ids and sinks.notices("email") == ids
    assert "Campaign c1: 3 budget changes blocked or failed" in sinks.webhook.messages[0]["text"]
    assert sinks.smtp.messages[2]["subject"].startswith("✅ [roasloop acme] Resolved: Campaign c1")
    events = [decode_as(r.value, AlertNotified) for r in await read_records(settings, ALERTS, min_count=3)]
    assert [(e.event_id, e.notice) for e in events] == list(zip(ids, ["raised", "reminder", "resolved"], strict=True))
    assert len({e.alert_id for e in events}) == 1


async def test_meta_errors_for_longer_than_x_alert_once_and_a_clean_change_resolves(alerts: Alerts) -> None:
    await alerts.publish(outcome("failed", at=T0, code=17), outcome("completed", at=T0 + timedelta(minutes=10),
                                                                     attempts=3))
    await alerts.publish(outcome("failed", at=T0 + timedelta(minutes=25), code=17))
    await wait_until(lambda: alerts.pool.fetchval("SELECT count(*) = 3 FROM alert_outcomes"))
    assert await alerts.notices("meta_trouble") == []  # 25 min of trouble: under the 30 min default
    await alerts.publish(outcome("failed", at=T0 + timedelta(minutes=31), code=4),
                         outcome("failed", at=T0 + timedelta(minutes=35), code=613))
    assert await alerts.wait_notices(1, "meta_trouble") == [("meta_trouble", "raised")]
    title = await alerts.pool.fetchval("SELECT title FROM alerts WHERE rule = 'meta_trouble'")
    assert title == "Meta has been answering errors and throttling for 35 min"
    await alerts.publish(outcome("completed", at=T0 + timedelta(minutes=40), attempts=1))
    assert await alerts.wait_notices(2, "meta_trouble") == [("meta_trouble", "raised"), ("meta_trouble", "resolved")]


async def test_one_meta_error_is_not_an_alert(alerts: Alerts) -> None:
    await alerts.publish(outcome("failed", at=T0, code=1), outcome("blocked", at=T0 + timedelta(minutes=1)))
    await wait_until(lambda: alerts.pool.fetchval("SELECT count(*) = 2 FROM alert_outcomes"))
    await alerts.sweep()
    assert await alerts.notices() == []


async def test_roas_collapse_needs_the_whole_interval_below_and_clears_when_the_mean_is_back(alerts: Alerts) -> None:
    # A high-variance ad set after a bad day: its mean dipped, but its interval still reaches well above 1.
    noisy = {"steady": (1.8, 1.5, 2.2), "noisy": (0.55, 0.08, 2.9)}
    await alerts.publish(decision(noisy, at=T0))
    await wait_until(lambda: alerts.pool.fetchval("SELECT count(*) = 1 FROM alert_groups"))
    assert await alerts.notices() == []
    await alerts.publish(decision({"steady": (1.8, 1.5, 2.2), "noisy": (0.42, 0.25, 0.71)}, at=T0 + hours(6)))
    assert await alerts.wait_notices(1) == [("roas_collapse", "raised")]
    subject = await alerts.pool.fetchval("SELECT subject FROM alerts")
    assert subject == "noisy"
    # At the line (interval above, mean below): neither raised again nor resolved.
    await alerts.publish(decision({"steady": (1.8, 1.5, 2.2), "noisy": (0.9, 0.6, 1.3)}, at=T0 + hours(12)))
    await alerts.publish(decision({"steady": (1.8, 1.5, 2.2), "noisy": (1.2, 0.9, 1.6)}, at=T0 + hours(18)))
    assert await alerts.wait_notices(2) == [("roas_collapse", "raised"), ("roas_collapse", "resolved")]
    # An out-of-order, older decision does not bring it back.
    await alerts.publish(decision({"steady": (1.8, 1.5, 2.2), "noisy": (0.3, 0.2, 0.4)}, at=T0 + hours(7)))
    await alerts.publish(decision({"steady": (1.8, 1.5, 2.2), "noisy": (1.3, 1.0, 1.7)}, at=T0 + hours(24)))
    await wait_until(lambda: alerts.pool.fetchval("SELECT decided_at = $1 FROM alert_groups", T0 + hours(24)))
    assert len(await alerts.notices()) == 2


async def test_spend_without_revenue_in_a_group_that_converted_alerts_and_revenue_resolves(alerts: Alerts) -> None:
    d = [date(2026, 4, 20) + timedelta(days=i) for i in range(8)]
    await alerts.publish(revenue(d[0], 50_000), revenue(d[2], 20_000))
    await wait_until(lambda: alerts.pool.fetchval("SELECT count(*) = 2 FROM alert_revenue"))
    await alerts.publish(*(spend(day, 5_000) for day in d[:5]))
    await wait_until(lambda: alerts.pool.fetchval("SELECT count(*) = 5 FROM alert_spend"))
    assert await alerts.notices() == []  # d2..d4 were spent on, but d2 brought revenue
    await alerts.publish(spend(d[5], 5_000))
    assert await alerts.wait_notices(1) == [("no_revenue", "raised")]
    facts = await alerts.pool.fetchval("SELECT facts FROM alerts")
    assert facts["spend_minor"] == 15_000 and facts["revenue_before_minor"] == 70_000
    await alerts.publish(spend(d[6], 5_000))  # one more day: the same alert
    await alerts.publish(revenue(d[6], 1_500))
    assert await alerts.wait_notices(2) == [("no_revenue", "raised"), ("no_revenue", "resolved")]


async def test_a_group_that_never_converted_is_not_spend_without_revenue(alerts: Alerts) -> None:
    await alerts.publish(*(spend(date(2026, 4, 20) + timedelta(days=i), 5_000, group="new") for i in range(6)))
    await wait_until(lambda: alerts.pool.fetchval("SELECT count(*) = 6 FROM alert_spend"))
    assert await alerts.notices("no_revenue") == []


async def test_a_day_spent_well_under_the_total_alerts_and_a_full_day_resolves(alerts: Alerts) -> None:
    d = [date(2026, 4, 28) + timedelta(days=i) for i in range(4)]
    await alerts.publish(decision({"as1": (2.0, 1.5, 2.5), "as2": (2.0, 1.5, 2.5)}, at=T0 - hours(120)))
    await alerts.publish(spend(d[0], 2_000, entity="as1"), spend(d[0], 1_000, entity="as2"))
    await wait_until(lambda: alerts.pool.fetchval("SELECT count(*) = 2 FROM alert_spend"))
    assert await alerts.notices() == []  # the day is not over until a later day reports
    await alerts.publish(spend(d[1], 4_000, entity="as1"))
    assert await alerts.wait_notices(1) == [("budget_unspent", "raised")]
    assert await alerts.pool.fetchval("SELECT title FROM alerts") == (
        "Group c1 spent 30.00 USD of its 100.00 USD daily budget on 2026-04-28 (30%)")
    await alerts.publish(spend(d[1], 5_000, entity="as2"), spend(d[2], 100, entity="as1"))
    assert await alerts.wait_notices(2) == [("budget_unspent", "raised"), ("budget_unspent", "resolved")]
