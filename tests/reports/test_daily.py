"""The daily report: the numbers come from the stages' tables, the page is self-contained, it is sent
once per tenant after the report hour in the tenant's time zone, and ``roasloop report`` writes it."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from streams.core.clock import ManualClock
from streams.core.settings import Settings
from streams.reports.daily import build_report
from streams.reports.html import render_report
from tests.alerts.conftest import Sinks, alerts_config, running_alerts
from tests.helpers import wait_until

DAY = date(2026, 5, 1)
ROOT = Path(__file__).resolve().parents[2]


def at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


async def seed(db: asyncpg.Pool[Any]) -> None:
    await db.execute("INSERT INTO tenants (tenant_id, currency, time_zone) VALUES ('acme', 'USD', 'America/New_York')")
    for n, (entity, day, minor) in enumerate([("as1", DAY, 10_000), ("as2", DAY, 5_000),
                                              ("as1", DAY - timedelta(days=3), 7_000), ("as1", DAY - timedelta(days=9),
                                                                                         99_999)]):
        await db.execute("INSERT INTO spend_daily (tenant_id, entity_id, day, entity_level, group_id, campaign_id,"
                         " spend_minor, currency, impressions, clicks, reported_at) VALUES ('acme', $1, $2, 'adset',"
                         " 'c1', 'c1', $3, 'USD', 100, $4, $5)", entity, day, minor, n, at(day, 20))
    for n, (adset, stage, minor, when) in enumerate([
            ("as1", "appointmentscheduled", 50_000, at(DAY, 15)), ("as1", "closedwon", 400_000, at(DAY, 18)),
            ("as2", "closedlost", -50_000, at(DAY, 16)),
            ("as1", "appointmentscheduled", 50_000, at(DAY + timedelta(days=1), 2))]):  # 22:00 on May 1st in New York
        await db.execute(
            "INSERT INTO revenue_ledger (event_id, tenant_id, deal_id, group_id, campaign_id, adset_id, ad_id, kind,"
            " amount_minor, currency, credited_total_minor, stage_id, confidence, conversion_event_id, occurred_at,"
            " day) VALUES ($1, 'acme', $1, 'c1', 'c1', $2, 'ad1', 'synthetic', $3, 'USD', 0, $4, 1, $1, $5, $6)",
            f"r{n}", adset, minor, stage, when, when.date())
    payload = {"campaign_id": "c1", "allocations": [
        {"entity_id": e, "budget_minor": b, "posterior_mean": m, "posterior_low": lo, "posterior_high": hi}
        for e, b, m, lo, hi in (("as1", 12_000, 3.1, 2.4, 3.9), ("as2", 8_000, 1.2, 0.8, 1.7))]}
    await db.execute("INSERT INTO sampler_decisions (decision_id, tenant_id, group_id, decided_at, paused, requests,"
                     " payload) VALUES ('d1', 'acme', 'c1', $1, false, 2, $2)", at(DAY, 14), payload)
    for change, entity, status, previous, applied, reason in [
            ("ch1", "as1", "completed", 10_000, 12_000, "share 0.600 of 20000 -> 12000"),
            ("ch2", "as2", "clamped", 10_000, 8_000, "share 0.400 of 20000 -> 8000"),
            ("ch3", "as2", "blocked", 8_000, None, "")]:
        await db.execute(
            "INSERT INTO ad_change_history (change_id, event_id, tenant_id, group_id, campaign_id, entity_id,"
            " entity_level, status, currency, requested_budget_minor, previous_budget_minor, applied_budget_minor,"
            " reason, guardrails, requested_at, decided_at, settled_at) VALUES ($1, $1, 'acme', 'c1', 'c1', $2,"
            " 'adset', $3, 'USD', 1, $4, $5, $6, $7, $8, $8, $8)", change, entity, status, previous, applied, reason,
            [{"name": "velocity_6h", "passed": status == "completed", "detail": "clamped to -20% in 6 h"}],
            at(DAY, 16))


async def test_the_report_holds_the_days_numbers_and_the_why(db_pool: asyncpg.Pool[Any]) -> None:
    await seed(db_pool)
    async with db_pool.acquire() as conn:
        report = await build_report(conn, "acme", DAY)
    as1, as2 = report.lines[("c1", "as1")], report.lines[("c1", "as2")]
    assert (as1.spend[-1], sum(as1.spend), as2.spend[-1]) == (10_000, 17_000, 5_000)  # day -9 is out of the week
    assert sum(as1.revenue[-1:]) == 500_000  # 22:00 New York time counts on May 1st
    assert dict(as1.by_stage) == {"lead": 100_000, "won": 400_000} and dict(as2.by_stage) == {"lost": -50_000}
    assert as1.posterior == (3.1, 2.4, 3.9) and as1.budget_minor == 12_000
    assert (as2.changes_day["clamped"], as2.changes_day["blocked"]) == (1, 1)
    assert [(m.entity_id, m.previous_minor, m.applied_minor) for m in report.moves] == [
        ("as1", 10_000, 12_000), ("as2", 10_000, 8_000)]
    assert "pipeline ROAS 1.20 (0.80-1.70)" in report.moves[1].why and "clamped to -20% in 6 h" in report.moves[1].why
    page = render_report(report)
    assert page.count("<svg") == 2 and "<script" not in page and "<img" not in page
    assert "150.00 USD" in page and "4,500.00 USD" in page and "3.10 (2.40–3.90)" in page
    assert "share 0.600 of 20000" in page


async def test_the_report_goes_once_after_the_report_hour_in_the_tenants_time_zone(
        settings: Settings, db_pool: asyncpg.Pool[Any], sinks: Sinks) -> None:
    await seed(db_pool)
    clock = ManualClock(at(DAY + timedelta(days=1), 10) + timedelta(minutes=30))  # 06:30 in New York
    async with running_alerts(settings, db_pool, alerts_config(sinks, reports=True), clock) as alerts:
        await alerts.sweep()
        assert await db_pool.fetchval("SELECT count(*) FROM daily_reports") == 0
        clock.advance(3600)  # 07:30 in New York
        await alerts.sweep()
        await alerts.sweep()
        await wait_until(lambda: len(sinks.smtp.messages) == 1 and len(sinks.webhook.messages) == 1)
    assert [(r["tenant_id"], r["day"]) for r in await db_pool.fetch("SELECT * FROM daily_reports")] == [("acme", DAY)]
    mail = sinks.smtp.messages[0]
    assert mail["subject"] == "📊 [roasloop acme] Daily report for 2026-05-01" and "<svg" in mail["html"]
    assert "Spend 150.00 USD, pipeline revenue 4,500.00 USD" in mail["text"]
    assert "Spend 150.00 USD" in sinks.webhook.messages[0]["text"]


def test_roasloop_report_writes_the_page(settings: Settings, db_pool: asyncpg.Pool[Any], tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    env = {**os.environ, "DATABASE_URL": str(settings.database_url), "ROASLOOP_DATABASE_SCHEMA":
           settings.database_schema}
    result = subprocess.run([sys.executable, "-m", "streams.cli", "report", "--tenant", "acme", "--date",
                             "2026-05-01", "--out", str(out)], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Daily report · acme · 2026-05-01" in out.read_text()
    bad = subprocess.run([sys.executable, "-m", "streams.cli", "report", "--tenant", "acme", "--date", "May 1"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "is not a date" in bad.stderr
