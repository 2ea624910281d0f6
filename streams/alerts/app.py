"""The alerts stage: decisions, budget outcomes, revenue, spend and dead letters in; alerts out.

Subscriptions, each in a consumer group of its own so none waits on another's rebalances:

- ``budget.outcomes.v1`` (``alerts.outcomes``, inbox): blocked/failed changes per campaign, Meta trouble;
- ``decisions.v1`` (``alerts.decisions``): ROAS collapse from the posterior, the groups' totals;
- ``spend.v1`` (``alerts.spend``) and ``revenue.v1`` (``alerts.revenue``, inbox): spend without
  revenue, budget left unspent;
- every ``<topic>.dlq`` (``alerts.dlq``): new dead letters, counted once per record.

Each batch writes its facts and the alert transitions they cause in one transaction, and the
``AlertNotified`` events are published on ``alerts.v1`` before it commits
(:mod:`streams.core.process`). Beside the consumers run the sweep (:mod:`.sweep`: health, windows,
reminders, daily reports) and the delivery loop (:mod:`.delivery`: webhook and e-mail with backoff).

``faststream run streams.alerts.app:app`` and ``roasloop run alerts`` run it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import httpx
from faststream.kafka import KafkaMessage

from schemas.events import AllocationDecided, BudgetChangeSettled, RevenueRecognized, SpendReported
from schemas.topics import BUDGET_OUTCOMES, CATALOG, DECISIONS, REVENUE, SPEND, Topic
from streams.alerts import facts, health, money
from streams.alerts.delivery import Deliveries
from streams.alerts.lag import LagProbe
from streams.alerts.settings import AlertsSettings, load_alerts_settings
from streams.alerts.store import Alerting
from streams.alerts.sweep import Sweep
from streams.core.controls.alert_channels import Defaults, Sealer
from streams.core.controls.alert_thresholds import Thresholds, load_thresholds
from streams.core.faststream_app import lazy_app
from streams.core.naming import unprefixed
from streams.core.process import Consumed, Effects, Processor
from streams.core.stage import Batching, Resources, Stage

GROUP = "alerts"
BATCH = Batching(max_records=200, timeout_ms=200)


def dead_letter_topics() -> tuple[Topic, ...]:
    """Every catalog topic's DLQ, as a subscribable topic (records are read raw, never decoded)."""
    return tuple(Topic(t.dlq, t.model, t.partitions, t.key_of, f"dead letters of {t.name}") for t in CATALOG)


class AlertsStage(Stage):
    name = "alerts"

    def __init__(self, config: AlertsSettings | None = None, http_transport: httpx.AsyncBaseTransport | None = None
                 ) -> None:
        self._config = config
        self.http_transport = http_transport
        self.alerting = Alerting(Defaults())
        self.sweep: Sweep | None = None
        self.deliveries: Deliveries | None = None
        self.probe: LagProbe | None = None
        self.http: httpx.AsyncClient | None = None

    @property
    def config(self) -> AlertsSettings:
        if self._config is None:
            self._config = load_alerts_settings()
        return self._config

    def subscribe(self, res: Resources) -> None:
        cfg = self.config
        self.alerting = Alerting(cfg.defaults())
        res.consume(BUDGET_OUTCOMES, group=GROUP + ".outcomes", batching=BATCH,
                    processor=Processor(GROUP + ".outcomes", self.outcomes))
        res.consume(DECISIONS, group=GROUP + ".decisions", batching=BATCH, processor=Processor(None, self.decisions))
        res.consume(SPEND, group=GROUP + ".spend", batching=BATCH, processor=Processor(None, self.spend))
        res.consume(REVENUE, group=GROUP + ".revenue", batching=BATCH,
                    processor=Processor(GROUP + ".revenue", self.revenue))

        @res.subscriber(*dead_letter_topics(), group=GROUP + ".dlq",  # type: ignore[untyped-decorator]
                        decoder=lambda msg: msg.body)
        async def dead_letter(_: Any, msg: KafkaMessage) -> None:
            record: Any = msg.raw_message
            origin = unprefixed(res.settings, record.topic).removesuffix(".dlq")
            async with res.effects() as fx:
                await health.dead_letter(self.alerting, fx, record, origin, await health.tenants(fx))

    async def start(self, res: Resources) -> None:
        cfg = self.config
        self.http = httpx.AsyncClient(transport=self.http_transport, follow_redirects=False)
        self.probe = LagProbe(res.settings)
        self.sweep = Sweep(res, cfg, self.alerting, self.probe)
        self.deliveries = Deliveries(res, cfg, self.alerting, Sealer(res.settings.hash_key), self.http)
        res.spawn(self.sweep.run(), name="alerts-sweep")
        res.spawn(self.deliveries.run(), name="alerts-delivery")

    async def stop(self, res: Resources) -> None:
        if self.probe is not None:
            await self.probe.close()
        if self.http is not None:
            await self.http.aclose()

    async def thresholds(self, fx: Effects, tenant_id: str, cache: dict[str, Thresholds]) -> Thresholds:
        if tenant_id not in cache:
            cache[tenant_id] = await load_thresholds(fx.conn, self.config, tenant_id)
        return cache[tenant_id]

    async def outcomes(self, fx: Effects, batch: Sequence[Consumed[BudgetChangeSettled]]) -> None:
        campaigns: dict[tuple[str, str], datetime] = {}
        tenants: dict[str, datetime] = {}
        for record in batch:
            e = record.event
            await facts.record_outcome(fx.conn, e)
            campaigns[(e.tenant_id, e.campaign_id)] = max(e.occurred_at, campaigns.get((e.tenant_id, e.campaign_id),
                                                                                       e.occurred_at))
            tenants[e.tenant_id] = max(e.occurred_at, tenants.get(e.tenant_id, e.occurred_at))
        cache: dict[str, Thresholds] = {}
        for (tenant_id, campaign_id), at in sorted(campaigns.items()):
            th = await self.thresholds(fx, tenant_id, cache)
            await money.change_failures(self.alerting, fx, th, tenant_id, campaign_id, at)
        for tenant_id, at in sorted(tenants.items()):
            await money.meta_trouble(self.alerting, fx, await self.thresholds(fx, tenant_id, cache), tenant_id, at)

    async def decisions(self, fx: Effects, batch: Sequence[Consumed[AllocationDecided]]) -> None:
        cache: dict[str, Thresholds] = {}
        for record in sorted(batch, key=lambda r: r.event.occurred_at):
            decision = record.event
            if not await facts.record_total(fx.conn, decision):
                continue  # a newer decision of this group was already judged
            th = await self.thresholds(fx, decision.tenant_id, cache)
            await money.roas_collapse(self.alerting, fx, th, decision)
            await money.budget_unspent(self.alerting, fx, th, decision.tenant_id, decision.group_id)

    async def spend(self, fx: Effects, batch: Sequence[Consumed[SpendReported]]) -> None:
        for record in batch:
            await facts.record_spend(fx.conn, record.event)
        await self._groups(fx, {(r.event.tenant_id, r.event.group_id) for r in batch}, unspent=True)

    async def revenue(self, fx: Effects, batch: Sequence[Consumed[RevenueRecognized]]) -> None:
        for record in batch:
            await facts.record_revenue(fx.conn, record.event)
        await self._groups(fx, {(r.event.tenant_id, r.event.group_id) for r in batch}, unspent=False)

    async def _groups(self, fx: Effects, groups: set[tuple[str, str]], unspent: bool) -> None:
        cache: dict[str, Thresholds] = {}
        for tenant_id, group_id in sorted(groups):
            th = await self.thresholds(fx, tenant_id, cache)
            await money.no_revenue(self.alerting, fx, th, tenant_id, group_id)
            if unspent:
                await money.budget_unspent(self.alerting, fx, th, tenant_id, group_id)


stage = AlertsStage()
__getattr__ = lazy_app(stage)
