"""Simulated traffic for ``roasloop dev``: the sandbox market driving the real stack.

The market's clicks follow the real click redirect (and the rl_cid it appends lands on the CRM
contact, as a landing page would store it); its deal-stage changes reach the real HubSpot
webhook endpoint signed as HubSpot signs them; the insights poller reads spend from the Meta
stand-in, and the executor changes budgets there - which is where the market reads them.

Everything runs on one :class:`~streams.core.clock.ScaledClock`: a simulated day passes every
``seconds_per_day`` wall seconds, so hour-based guardrails and day-based windows keep their
meaning in a run of a minute or two.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import structlog

from streams.core.clock import ScaledClock
from streams.core.controls.group_budgets import save_group_budget
from streams.core.db import connect
from streams.core.settings import Settings
from streams.lab.dev.report import CampaignTruth, campaign_summary
from streams.lab.sandbox.hubspot import HubSpotState, create_hubspot_app
from streams.lab.sandbox.hubspot_webhooks import WebhookSender
from streams.lab.sandbox.live import LiveStats, redirect_clicker, run_market_live
from streams.lab.sandbox.market import Market
from streams.lab.sandbox.market_types import ClickRecord
from streams.lab.sandbox.meta import create_meta_app
from streams.lab.sandbox.meta_state import MetaState
from streams.lab.sandbox.notify_sinks import SmtpSink, WebhookSink
from streams.lab.sandbox.serve import BackgroundServer

log = structlog.get_logger("roasloop.dev.simulation")

DEFAULT_SCENARIO = "fast_small"

SAMPLER_ENVIRONMENT = {
    # The sampler's delay prior describes a B2B pipeline (deals progress over a week or more).
    # The dev market is compressed: its stage changes follow clicks within hours, and a 7-day
    # prior would call most of the value still to come for days, until the observed lags outweigh
    # it. This is the operator's knowledge of their sales cycle.
    "ROASLOOP_SAMPLER_DELAY_PRIOR_MEAN_DAYS": "0.5",
    # Decide every 6 simulated hours (the executor's 20%-per-6-hours window) rather than hourly:
    # at a few wall seconds per day, hourly decisions would be pure CPU load.
    "ROASLOOP_SAMPLER_SCHEDULE_SECONDS": "21600",
}
"""The dev sampler's settings; a replay of a dev run needs the same (``roasloop replay`` reads them
from the environment, as the stage does)."""


@dataclass
class Sandbox:
    """The stand-ins and the market, up before the stages so their URLs can go into settings."""

    market: Market
    clock: ScaledClock
    meta: MetaState
    hubspot: HubSpotState
    servers: list[BackgroundServer] = field(default_factory=list)
    urls: dict[str, str] = field(default_factory=dict)
    start_budgets: dict[str, int] = field(default_factory=dict)
    stats: LiveStats | None = None
    smtp: SmtpSink | None = None
    webhook: WebhookSink | None = None

    @classmethod
    def start(cls, scenario: str | None, seed: int, seconds_per_day: float) -> Sandbox:
        market = Market.from_scenario(scenario or DEFAULT_SCENARIO, seed)
        # Simulated time starts where the market does, so insights days, event times and windows agree.
        clock = ScaledClock(86_400 / seconds_per_day, origin=market.day_start(market.day_index))
        meta = MetaState(clock=clock.now)
        market.attach_meta(meta)
        sandbox = cls(market=market, clock=clock, meta=meta, hubspot=HubSpotState())
        sandbox.start_budgets = market.budgets()
        for name, app in (("meta", create_meta_app(meta)), ("hubspot", create_hubspot_app(sandbox.hubspot))):
            server = BackgroundServer(app)
            sandbox.urls[name] = server.start()
            sandbox.servers.append(server)
        sandbox.smtp, sandbox.webhook = SmtpSink(on_message=_show).start(), WebhookSink(on_message=_show).start()
        return sandbox

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        for sink in (self.smtp, self.webhook):
            if sink is not None:
                sink.stop()

    @property
    def tenant_id(self) -> str:
        return self.market.entities().tenant_id

    def settings_overrides(self) -> dict[str, Any]:
        """Point the stages at the stand-ins, with the stand-ins' credentials."""
        ents = self.market.entities()
        return {
            "meta_graph_url": self.urls["meta"],
            "meta_access_token": self.meta.access_token,
            "meta_app_secret": self.meta.app_secret,
            "meta_ad_account_id": f"act_{ents.account_id}",
            "hubspot_api_url": self.urls["hubspot"],
            "hubspot_access_token": self.hubspot.access_token,
            "hubspot_client_secret": self.hubspot.client_secret,
            "default_currency": ents.currency,
        }

    def stage_environment(self) -> dict[str, str]:
        """Stage settings for the simulated tenant (the dev process's own environment).

        Tolerances for *processing latency* are in simulated seconds, and a few wall milliseconds
        of latency are simulated minutes here: they are scaled so that two wall seconds of latency
        stay tolerated, as the defaults tolerate on a real clock.
        """
        ents = self.market.entities()
        latency = f"{2.0 * self.clock.scale:.0f}"
        return {
            "ROASLOOP_ATTRIBUTION_CLOCK_SKEW_SECONDS": latency,
            "ROASLOOP_ATTRIBUTION_PENDING_SECONDS": f"{10.0 * self.clock.scale:.0f}",
            "ROASLOOP_INGEST_INSIGHTS_ACCOUNTS": f"{ents.tenant_id}=act_{ents.account_id}",
            "ROASLOOP_INGEST_INSIGHTS_INTERVAL_SECONDS": "7200",  # simulated: every two hours
            "ROASLOOP_INGEST_INSIGHTS_LOOKBACK_DAYS": "2",
            "ROASLOOP_INGEST_TRUST_FORWARDED_FOR": "true",
            "ROASLOOP_INGEST_HUBSPOT_DEFAULT_TENANT": ents.tenant_id,
            "ROASLOOP_INGEST_RATE_LIMIT_PER_SECOND": "5000",
            "ROASLOOP_INGEST_RATE_LIMIT_BURST": "5000",
            **SAMPLER_ENVIRONMENT,
            **self.alerts_environment(),
        }

    def alerts_environment(self) -> dict[str, str]:
        """Alerts go to the local sinks; durations that stand for "a while" are a few wall seconds.

        Thresholds are on the stage's (fast) clock: a simulated day passes in seconds, so a
        cooldown, a lag that lasts, an intent that hangs are set to what a person watching the run
        would call long (in wall seconds, scaled), and retries back off in wall seconds too.
        """
        assert self.smtp is not None and self.webhook is not None
        wall = self.clock.scale

        def seconds(n: float) -> str:
            return f"{n * wall:.0f}"

        return {
            "ROASLOOP_ALERTS_WEBHOOK_URL": self.webhook.url, "ROASLOOP_ALERTS_ALLOW_LOCAL_WEBHOOKS": "true",
            "ROASLOOP_ALERTS_EMAIL_TO": "ops@example.com", "ROASLOOP_ALERTS_SMTP_HOST": "127.0.0.1",
            "ROASLOOP_ALERTS_SMTP_PORT": str(self.smtp.port), "ROASLOOP_ALERTS_SMTP_SECURITY": "none",
            "ROASLOOP_ALERTS_SWEEP_INTERVAL_SECONDS": "2", "ROASLOOP_ALERTS_DELIVERY_INTERVAL_SECONDS": "1",
            "ROASLOOP_ALERTS_COOLDOWN_SECONDS": seconds(60), "ROASLOOP_ALERTS_LAG_SECONDS": seconds(5),
            "ROASLOOP_ALERTS_LAG_RECORDS": "200", "ROASLOOP_ALERTS_EXECUTING_SECONDS": seconds(5),
            "ROASLOOP_ALERTS_META_TROUBLE_SECONDS": seconds(3),
            "ROASLOOP_ALERTS_DEAD_LETTERS_QUIET_SECONDS": seconds(20),
            "ROASLOOP_ALERTS_RETRY_BASE_SECONDS": seconds(1), "ROASLOOP_ALERTS_RETRY_MAX_SECONDS": seconds(20),
        }

    async def seed(self, settings: Settings) -> None:
        """What an operator sets up once per tenant: currency, landing hosts, account structure."""
        ents = self.market.entities()
        conn = await connect(settings)
        try:
            await conn.execute(
                "INSERT INTO tenants (tenant_id, currency, landing_hosts) VALUES ($1, $2, $3) "
                "ON CONFLICT (tenant_id) DO UPDATE SET currency = $2, landing_hosts = $3",
                ents.tenant_id, ents.currency, ["example.com"],
            )
            await conn.execute(
                "INSERT INTO hubspot_portals (portal_id, tenant_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                self.hubspot.portal_id, ents.tenant_id,
            )
            rows = [(ents.tenant_id, ad.ad_id, a.adset_id, a.campaign_id, self.clock.now())
                    for a in ents.adsets() for ad in a.ads]
            await conn.executemany(
                "INSERT INTO ad_catalog (tenant_id, ad_id, adset_id, campaign_id, learned_at) "
                "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING", rows,
            )
            for group in ents.groups:
                await save_group_budget(conn, ents.tenant_id, group.group_id, group.total_budget_minor, ents.currency,
                                        actor="roasloop dev")
        finally:
            await conn.close()

    def _landed(self, click: ClickRecord, rl_cid: str) -> None:
        """The landing page stores rl_cid on the contact that the click becomes (if any)."""
        with self.hubspot.lock:
            for contact in self.hubspot.contacts.values():
                if contact.properties.get("roasloop_click_id") == click.click_id:
                    contact.properties["roasloop_click_id"] = rl_cid

    async def play(self, ingress_url: str, stop: asyncio.Event, seconds_per_day: float) -> LiveStats:
        self.clock.rebase(self.market.day_start(self.market.day_index))  # day 0 starts now
        async with httpx.AsyncClient(timeout=10.0) as client:
            sender = WebhookSender(url=f"{ingress_url}/webhooks/hubspot", client_secret=self.hubspot.client_secret,
                                   client=client, clock=self.clock.now)
            self.stats = await run_market_live(
                self.market, seconds_per_day=seconds_per_day, stop_event=stop,
                click_hit=redirect_clicker(client, ingress_url, self.tenant_id, landed=self._landed),
                webhooks=sender, hubspot_state=self.hubspot, meta_state=self.meta,
                publish_spend=False, now=self.clock.now,
            )
            return self.stats

    async def summary(self, settings: Settings) -> dict[str, Any]:
        ents = self.market.entities()
        truth = self.market.truth()
        campaigns = [
            CampaignTruth(
                campaign_id=c.campaign_id,
                adsets=tuple(a.adset_id for a in c.adsets),
                best_adset=truth.best_adset(group.group_id),
                start_budgets=self.start_budgets,
            )
            for group in ents.groups for c in group.campaigns
        ]
        ad_to_campaign = {ad.ad_id: a.campaign_id for a in ents.adsets() for ad in a.ads}
        summary = await campaign_summary(settings, campaigns, ad_to_campaign, self.market.budgets())
        summary["alerts"] = await alerts_summary(settings, self)
        summary["simulation"] = {
            "scenario": self.market.scenario.name, "seed": self.market.seed,
            "days": self.stats.days if self.stats else 0, "clicks_played": self.stats.clicks if self.stats else 0,
            "stage_changes_played": self.stats.stage_changes if self.stats else 0,
            "meta_budget_changes": len(self.meta.change_log),
        }
        return summary


def _show(message: dict[str, Any]) -> None:
    """Each alert as it lands at a local sink, one line on stderr."""
    first = (message.get("subject") or message.get("text") or "").split("\n")[0].strip("*")
    print(f"roasloop dev: alert at the {message['channel']} sink: {first}", file=sys.stderr)


async def alerts_summary(settings: Settings, sandbox: Sandbox) -> dict[str, Any]:
    """Notices per rule and kind, and what reached the sinks."""
    conn = await connect(settings)
    try:
        rows = await conn.fetch("SELECT rule, notice, count(*) AS n FROM alert_notices GROUP BY rule, notice")
    finally:
        await conn.close()
    return {"notices": {f"{r['rule']}.{r['notice']}": int(r["n"]) for r in rows},
            "email_received": len(sandbox.smtp.messages) if sandbox.smtp else 0,
            "webhook_received": len(sandbox.webhook.messages) if sandbox.webhook else 0}


@contextlib.asynccontextmanager
async def playing(sandbox: Sandbox, ingress_url: str, seconds_per_day: float) -> AsyncIterator[asyncio.Event]:
    """Play the market until the block ends (or the yielded event is set), then stop it cleanly."""
    stop = asyncio.Event()
    task = asyncio.create_task(sandbox.play(ingress_url, stop, seconds_per_day))
    try:
        yield stop
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, timeout=30)
        except Exception:
            log.exception("market_stopped_with_error")
