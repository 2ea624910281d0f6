"""The sweep: every ``sweep_interval_seconds``, what no consumed event triggers.

- health: consumer lag (measured from the broker), intents left executing, the kill switch,
  changes waiting for approval, dead-letter alerts gone quiet;
- windows that slid: firing money alerts re-judged at the clock's now (a campaign's failures
  aged out of the window, Meta quiet for long enough);
- reminders: firing, unacknowledged alerts whose cooldown passed;
- daily reports: each tenant's yesterday, once, after ``report_hour`` in the tenant's time zone.

Each part runs in its own transaction (:meth:`Resources.effects`, so emitted notices are published
before it commits) and a failing part is logged and does not stop the others. Every transition is
decided under the alert's lock, so two replicas sweeping at once still notify once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog

from streams.alerts import accounts, health, lag, money
from streams.alerts.settings import AlertsSettings
from streams.alerts.store import Alerting, enqueue
from streams.core.controls.alert_channels import configured_kinds
from streams.core.controls.alert_thresholds import Thresholds, effective
from streams.core.process import Effects
from streams.core.stage import Resources
from streams.reports.daily import build_report
from streams.reports.html import render_report

log = structlog.get_logger("roasloop.alerts.sweep")
LAG_SAMPLES_KEPT = timedelta(days=1)


class Sweep:
    def __init__(self, res: Resources, settings: AlertsSettings, alerting: Alerting, probe: lag.LagProbe) -> None:
        self.res, self.settings, self.alerting, self.probe = res, settings, alerting, probe

    async def run(self) -> None:
        while True:
            await self.once()
            await asyncio.sleep(self.settings.sweep_interval_seconds)

    async def _thresholds(self, fx: Effects) -> Callable[[str], Thresholds]:
        rows = {r["tenant_id"]: r for r in await fx.conn.fetch("SELECT * FROM alert_threshold_overrides")}
        return lambda tenant_id: effective(self.settings, rows.get(tenant_id))

    async def once(self) -> None:
        """One sweep; each part isolated so one failure (the broker unreachable) does not stop the rest."""
        for name, part in (("lag", self.lag), ("health", self.health), ("windows", self.windows),
                           ("reminders", self.reminders), ("reports", self.reports)):
            try:
                await part()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("alert_sweep_part_failed", part=name)

    async def _in_effects(self, work: Callable[[Effects, Callable[[str], Thresholds]], Awaitable[None]]) -> None:
        async with self.res.effects() as fx:
            await work(fx, await self._thresholds(fx))

    async def lag(self) -> None:
        lags = await self.probe.measure()

        async def judge(fx: Effects, th_of: Callable[[str], Thresholds]) -> None:
            await lag.record(fx.conn, lags, fx.now, LAG_SAMPLES_KEPT)
            everyone = await health.tenants(fx)

            async def lagging(records: int, seconds: float) -> Any:
                return await lag.lagging(fx.conn, fx.now, records, seconds)

            await health.consumer_lag(self.alerting, fx, th_of, everyone, lagging)

        await self._in_effects(judge)

    async def health(self) -> None:
        async def judge(fx: Effects, th_of: Callable[[str], Thresholds]) -> None:
            await health.intents_stuck(self.alerting, fx, th_of)
            await health.kill_switch(self.alerting, fx)
            await health.approvals_waiting(self.alerting, fx, th_of)
            await health.dead_letters_quiet(self.alerting, fx, th_of)
            await accounts.tokens_refused(self.alerting, fx)

        await self._in_effects(judge)

    async def windows(self) -> None:
        async def judge(fx: Effects, th_of: Callable[[str], Thresholds]) -> None:
            for row in await self.alerting.firing(fx.conn, money.CHANGE_FAILURES):
                await money.change_failures(self.alerting, fx, th_of(row["tenant_id"]), row["tenant_id"],
                                            row["subject"], fx.now)
            for row in await self.alerting.firing(fx.conn, money.META_TROUBLE):
                await money.meta_trouble(self.alerting, fx, th_of(row["tenant_id"]), row["tenant_id"], fx.now)

        await self._in_effects(judge)

    async def reminders(self) -> None:
        async def judge(fx: Effects, th_of: Callable[[str], Thresholds]) -> None:
            await self.alerting.remind_due(fx, lambda tenant_id: th_of(tenant_id).seconds("cooldown_seconds"))

        await self._in_effects(judge)

    async def reports(self) -> None:
        if not self.settings.reports:
            return
        async with self.res.pool.acquire() as conn:
            tenants = await conn.fetch("SELECT tenant_id, time_zone FROM tenants ORDER BY tenant_id")
        for row in tenants:
            local = self.res.clock.now().astimezone(zone(row["time_zone"]))
            if local.hour >= self.settings.report_hour:
                await self.send_report(row["tenant_id"], local.date() - timedelta(days=1))

    async def send_report(self, tenant_id: str, day: date) -> bool:
        """Make and queue ``day``'s report for ``tenant_id`` unless it was made already (True if made now)."""
        async with self.res.pool.acquire() as conn:
            if await conn.fetchval("SELECT 1 FROM daily_reports WHERE tenant_id = $1 AND day = $2", tenant_id, day):
                return False
            report = await build_report(conn, tenant_id, day, self.res.settings.default_currency)
        page = render_report(report)
        async with self.res.effects() as fx:
            made = await fx.conn.fetchval(
                "INSERT INTO daily_reports (tenant_id, day, generated_at, html) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT DO NOTHING RETURNING true", tenant_id, day, fx.now, page)
            if not made:
                return False
            kinds = await configured_kinds(fx.conn, tenant_id, self.alerting.defaults)
            event_id = f"report-{tenant_id}-{day.isoformat()}"
            subject = f"📊 [roasloop {tenant_id}] Daily report for {day.isoformat()}"
            await enqueue(fx, event_id, tenant_id, [k for k in kinds if k == "email"], subject, report.summary(),
                          page)
            await enqueue(fx, event_id, tenant_id, [k for k in kinds if k == "webhook"], subject, report.summary(),
                          None)
        log.info("daily_report_made", tenant_id=tenant_id, day=day.isoformat())
        return True


def zone(name: str) -> ZoneInfo:
    """The tenant's zone; UTC for a name the zone database does not know (and a log line saying so)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown_time_zone", time_zone=name[:64])
        return ZoneInfo("UTC")
