"""The sampler stage: revenue and spend in, allocation decisions and budget requests out.

One subscription reads ``revenue.v1`` and ``spend.v1`` together in consumer group ``sampler``. The
topics are co-partitioned by ``tenant:group``, and one subscription to both with the range assignor
(:meth:`Resources.subscriber <streams.core.stage.Resources.subscriber>`) hands partition *p* of
both topics to the same member, so one instance owns every event of a group; a record a foreign producer put on
another partition than murmur2 says is moved there first (:mod:`streams.core.copartition`). Each event updates
the group's facts and every entity's posterior in one transaction with its inbox row (a
redelivery is a no-op). A decision follows when enough new evidence has arrived
(``significant_events``, debounced by ``debounce_seconds``) and at least every ``schedule_seconds``
for the groups this instance owns (:mod:`.schedule`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import structlog
from aiokafka import ConsumerRebalanceListener, TopicPartition

from schemas.events import RevenueRecognized, SpendReported
from schemas.topics import REVENUE, SPEND
from streams.core.copartition import CoPartitioned
from streams.core.faststream_app import lazy_app
from streams.core.partitions import group_partition
from streams.core.process import Consumed, Effects
from streams.core.stage import Resources, Stage
from streams.priors.live import live_priors
from streams.priors.source import NullPriorSource, PriorSource, TenantPriorSources
from streams.sampler import schedule, store
from streams.sampler.cache import GroupCache
from streams.sampler.coldstart import external_priors
from streams.sampler.settings import SamplerSettings, load_sampler_settings
from streams.sampler.state import GroupState, retention_cutoff

CONSUMER = "sampler"
log = structlog.get_logger("roasloop.sampler")

GroupKey = tuple[str, str]
Fact = RevenueRecognized | SpendReported


class SamplerStage(Stage):
    name = "sampler"

    def __init__(self, settings: SamplerSettings | None = None,
                 prior_source: PriorSource | TenantPriorSources | None = None) -> None:
        self._settings = settings
        self.prior_source: PriorSource | TenantPriorSources = prior_source or NullPriorSource()
        """Cold-start priors (``streams.priors``): unless one is given, each tenant's active version
        (:class:`~streams.priors.live.LivePriors`, started in :meth:`start`)."""
        self.owned: set[GroupKey] = set()
        """The groups whose partitions this instance holds: the ones it schedules decisions for."""
        self.assigned: set[int] = set()
        self.deciding = asyncio.Lock()
        self.cache = GroupCache()
        """The owned groups' state, read from PostgreSQL on first touch after assignment."""
        self.res: Resources | None = None

    @property
    def settings(self) -> SamplerSettings:
        if self._settings is None:
            self._settings = load_sampler_settings()
        return self._settings

    def subscribe(self, res: Resources) -> None:
        self.res = res
        res.consume(REVENUE, SPEND, group=CONSUMER, listener=_Ownership(self),
                    processor=CoPartitioned(CONSUMER, self.ingest, after=self.decide_if_due))

    async def start(self, res: Resources) -> None:
        if isinstance(self.prior_source, NullPriorSource) and self.settings.priors_refresh_seconds > 0:
            self.prior_source = live_priors(res, self.settings.priors_refresh_seconds)
        res.spawn(schedule.every_group(res, self), name="sampler-scheduler")

    async def ingest(self, fx: Effects, batch: Sequence[Consumed[Fact]]) -> dict[GroupKey, int]:
        """Apply the batch's facts and refresh each touched group's posteriors, in the batch's transaction.

        The facts go to the groups' in-memory state (:mod:`.cache`) and are written behind to
        PostgreSQL in this transaction; each touched group's posterior is computed once, from its
        state after the whole batch. Returns, per group touched, the events seen since its last
        decision. The records' positions advance their groups' evidence marks in the same
        transaction, so a decision can say exactly which records it saw."""
        model = self.settings.model()
        minimum = self.settings.platform_min_budget_minor
        cutoff = retention_cutoff(fx.now, model)
        by_group: dict[GroupKey, list[Consumed[Fact]]] = {}
        for record in batch:
            by_group.setdefault((record.event.tenant_id, record.event.group_id), []).append(record)
        self.cache.begin(by_group)
        # every group's state before this batch's writes, which are then applied to it in memory
        states = {key: await self.cache.get(fx.conn, key, model, cutoff, minimum) for key in by_group}
        await store.apply_facts(fx.conn, [r.event for r in batch], model, minimum)
        counts: dict[GroupKey, int] = {}
        for key, records in by_group.items():
            counts[key] = await _touch(fx, key, records)
            state = states[key]
            for record in records:
                _record(state, record.event)
            state.prune(cutoff)
            ids = state.active_entities(fx.now.date(), model.entity_ttl_days)
            if ids:
                external = external_priors(self.prior_source, ids, tenant_id=key[0])
                posterior = state.posterior(ids, fx.now, model, external)
                await store.save_posterior(fx.conn, state, posterior, fx.now)
        return counts

    async def decide_if_due(self, counts: dict[GroupKey, int]) -> None:
        """After a batch commits: decide the groups with enough new evidence, at most every debounce."""
        self.cache.committed()
        self.owned |= counts.keys()
        res = self.running()
        for (tenant_id, group_id), count in sorted(counts.items()):
            if count < self.settings.significant_events:
                continue
            async with res.pool.acquire() as conn:
                row = await store.group_row(conn, tenant_id, group_id)
            if row is not None and schedule.due(row.last_decided_at, res.clock.now(), self.settings.debounce_seconds):
                await schedule.decide_group(res, self, tenant_id, group_id)

    def running(self) -> Resources:
        if self.res is None:
            raise RuntimeError("the sampler stage is not subscribed")
        return self.res


async def _touch(fx: Effects, key: GroupKey, records: Sequence[Consumed[Fact]]) -> int:
    """One group row update per partition the group's records came from (count, latest time, mark)."""
    last = records[-1].event
    currency = last.spend.currency if isinstance(last, SpendReported) else last.amount.currency
    at = max(r.event.occurred_at for r in records)
    furthest: dict[tuple[str, int], int] = {}
    for r in records:
        furthest[(r.topic, r.partition)] = max(furthest.get((r.topic, r.partition), -1), r.offset)
    seen = 0
    for i, ((topic, partition), offset) in enumerate(sorted(furthest.items())):
        seen = await store.touch_group(fx.conn, *key, records[0].event.campaign_id, currency, at,
                                       store.Position(topic, partition, offset), len(records) if i == 0 else 0)
    return seen


def _record(state: GroupState, event: Fact) -> None:
    """The same fact in memory that :func:`store.apply_facts` wrote to PostgreSQL."""
    if isinstance(event, SpendReported):
        state.record_spend(event.entity_id, event.campaign_id, event.day, event.spend.amount_minor, event.clicks,
                           event.impressions, event.leads, event.daily_budget_minor)
    else:
        state.record_revenue(event.adset_id, event.campaign_id, event.amount.amount_minor, event.occurred_at,
                             event.click_occurred_at, store.first_credit(event), store.deal_credit(event))


class _Ownership(ConsumerRebalanceListener):  # type: ignore[misc]
    """On assignment, the groups of the assigned partitions become this instance's to schedule."""

    def __init__(self, stage: SamplerStage) -> None:
        self.stage = stage

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        gone = {tp.partition for tp in revoked}
        self.stage.cache.forget_partitions(gone)
        self.stage.assigned -= gone
        self.stage.owned = {g for g in self.stage.owned if group_partition(*g) not in gone}

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self.stage.assigned |= {tp.partition for tp in assigned}
        self.stage.cache.forget_partitions({tp.partition for tp in assigned})  # read again on first touch
        try:
            async with self.stage.running().pool.acquire() as conn:
                groups = await store.all_groups(conn)
        except Exception:  # the pool may not be open yet on the very first assignment
            return
        self.stage.owned |= {(g.tenant_id, g.group_id) for g in groups
                             if group_partition(g.tenant_id, g.group_id) in self.stage.assigned}


stage = SamplerStage()
__getattr__ = lazy_app(stage)
