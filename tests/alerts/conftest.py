"""The alerts stage on the real broker and database, with a local webhook receiver and SMTP sink."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from pydantic import SecretStr

from schemas import (
    AllocationDecided,
    BudgetChangeSettled,
    EntityAllocation,
    Envelope,
    Money,
    RevenueRecognized,
    SignedMoney,
    SpendReported,
)
from streams.alerts.app import AlertsStage
from streams.alerts.settings import AlertsSettings
from streams.core.clock import ManualClock
from streams.core.settings import Settings
from streams.core.stage import StageRunner
from streams.lab.sandbox.notify_sinks import SmtpSink, WebhookSink
from tests.helpers import running_stages, wait_until

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
TENANT = "acme"


@dataclass
class Sinks:
    smtp: SmtpSink
    webhook: WebhookSink

    def notices(self, channel: str) -> list[str]:
        sink = self.smtp if channel == "email" else self.webhook
        return [m["notice_id"] for m in sink.messages]


@pytest.fixture
def sinks() -> Iterator[Sinks]:
    smtp, webhook = SmtpSink().start(), WebhookSink().start()
    try:
        yield Sinks(smtp, webhook)
    finally:
        smtp.stop()
        webhook.stop()


def alerts_config(sinks: Sinks, **overrides: Any) -> AlertsSettings:
    values: dict[str, Any] = {
        "sweep_interval_seconds": 3600, "delivery_interval_seconds": 0.05, "reports": False,
        "webhook_url": SecretStr(sinks.webhook.url), "allow_local_webhooks": True, "email_to": "ops@example.com",
        "smtp_host": "127.0.0.1", "smtp_port": sinks.smtp.port, "smtp_security": "none", "send_timeout_seconds": 2,
    }
    return AlertsSettings(**(values | overrides))


@dataclass
class Alerts:
    runner: StageRunner
    stage: AlertsStage
    clock: ManualClock
    pool: asyncpg.Pool[Any]

    async def publish(self, *events: Envelope) -> None:
        await self.runner.resources.publisher.publish_many(events)

    async def sweep(self) -> None:
        assert self.stage.sweep is not None
        await self.stage.sweep.once()

    async def deliver(self) -> int:
        assert self.stage.deliveries is not None
        return await self.stage.deliveries.round()

    async def notices(self, rule: str | None = None) -> list[tuple[str, str]]:
        """(rule, notice) of every notice so far, oldest first."""
        rows = await self.pool.fetch("SELECT rule, notice FROM alert_notices WHERE $1::text IS NULL OR rule = $1"
                                     " ORDER BY occurred_at, event_id", rule)
        return [(r["rule"], r["notice"]) for r in rows]

    async def wait_notices(self, count: int, rule: str | None = None, timeout: float = 20) -> list[tuple[str, str]]:
        async def enough() -> bool:
            return len(await self.notices(rule)) >= count

        await wait_until(enough, timeout=timeout)
        return await self.notices(rule)

    async def wait_delivered(self) -> None:
        async def done() -> bool:
            return not await self.pool.fetchval("SELECT count(*) FROM alert_deliveries WHERE status = 'pending'"
                                                " AND next_attempt_at <= $1", self.clock.now())

        await wait_until(done, timeout=20)


@contextlib.asynccontextmanager
async def running_alerts(settings: Settings, db_pool: asyncpg.Pool[Any], config: AlertsSettings,
                         clock: ManualClock | None = None) -> AsyncIterator[Alerts]:
    clock = clock or ManualClock(T0)
    stage = AlertsStage(config)
    async with running_stages(settings, [stage], clock) as runner:
        yield Alerts(runner, stage, clock, db_pool)


@pytest.fixture
async def alerts(settings: Settings, db_pool: asyncpg.Pool[Any], sinks: Sinks) -> AsyncIterator[Alerts]:
    await db_pool.execute("INSERT INTO tenants (tenant_id) VALUES ($1)", TENANT)
    async with running_alerts(settings, db_pool, alerts_config(sinks)) as running:
        yield running


_seq = iter(range(1, 10**9))


def outcome(outcome: str, *, at: datetime = T0, campaign: str = "c1", entity: str = "as1", attempts: int = 1,
            code: int | None = None, tenant: str = TENANT) -> BudgetChangeSettled:
    n = next(_seq)
    applied = 1_000 if outcome in ("completed", "clamped") else None
    return BudgetChangeSettled(
        event_id=f"out-{n}", tenant_id=tenant, occurred_at=at, change_id=f"chg-{n}", group_id=campaign,
        campaign_id=campaign, entity_id=entity, outcome=outcome, currency="USD",  # type: ignore[arg-type]
        requested_budget_minor=1_000, previous_budget_minor=900, applied_budget_minor=applied, attempts=attempts,
        error="Meta error" if outcome == "failed" else None,
        platform_response={"error": {"code": code, "message": "x"}} if code else None)


def decision(entities: dict[str, tuple[float, float, float]], *, at: datetime = T0, group: str = "c1",
             total: int = 10_000) -> AllocationDecided:
    n = next(_seq)
    share = 1.0 / len(entities)
    return AllocationDecided(
        event_id=f"dec-{n}", tenant_id=TENANT, occurred_at=at, decision_id=f"dec-{n}", group_id=group,
        campaign_id=group, policy="thompson", total_budget=Money(amount_minor=total, currency="USD"),
        allocations=[EntityAllocation(entity_id=e, share=share, budget_minor=int(total * share), posterior_mean=m,
                                      posterior_low=lo, posterior_high=hi) for e, (m, lo, hi) in entities.items()])


def spend(day: date, minor: int, *, group: str = "c1", entity: str = "as1") -> SpendReported:
    n = next(_seq)
    at = datetime(day.year, day.month, day.day, 23, 0, tzinfo=UTC)
    return SpendReported(event_id=f"spend-{n}", tenant_id=TENANT, occurred_at=at, group_id=group, campaign_id=group,
                         entity_id=entity, day=day, spend=Money(amount_minor=minor, currency="USD"), impressions=100,
                         clicks=5)


def revenue(day: date, minor: int, *, group: str = "c1") -> RevenueRecognized:
    n = next(_seq)
    at = datetime(day.year, day.month, day.day, 15, 0, tzinfo=UTC)
    return RevenueRecognized(
        event_id=f"rev-{n}", tenant_id=TENANT, occurred_at=at, deal_id=f"d{n}", group_id=group, campaign_id=group,
        adset_id="as1", ad_id="ad1", kind="synthetic", amount=SignedMoney(amount_minor=minor, currency="USD"),
        credited_total_minor=minor, stage_id="appointmentscheduled", confidence=1.0, conversion_event_id=f"conv-{n}")


def hours(n: float) -> timedelta:
    return timedelta(hours=n)
