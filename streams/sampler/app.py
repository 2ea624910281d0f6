"""The sampler stage: revenue and spend in, allocation decisions and budget requests out.

One subscriber reads ``revenue.v1`` and ``spend.v1`` together in consumer group ``sampler``. The
topics are co-partitioned by ``tenant:group``, and a single subscription to both makes Kafka's
range assignor hand partition *p* of both topics to the same member, so one instance owns every
event of a group. Each event updates the group's facts and every entity's posterior in one
transaction with its inbox row (a redelivery is a no-op). A decision follows when enough new
evidence has arrived (``significant_events``, debounced by ``debounce_seconds``) and at least
every ``schedule_seconds`` for the groups this instance owns.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import structlog
from aiokafka import ConsumerRebalanceListener, TopicPartition
from aiokafka.partitioner import DefaultPartitioner
from faststream import AckPolicy
from faststream.kafka import KafkaMessage

from schemas.codec import decode
from schemas.events import RevenueRecognized, SpendReported
from schemas.topics import GROUP_PARTITIONS, REVENUE, SPEND, group_key
from streams.core.errors import PoisonMessage
from streams.core.inbox import claim
from streams.core.naming import group_name, topic_name, unprefixed
from streams.core.stage import Resources, Stage
from streams.sampler import store
from streams.sampler.coldstart import external_priors
from streams.sampler.decide import decide, paused_for
from streams.sampler.priors.source import NullPriorSource, PriorSource
from streams.sampler.settings import SamplerSettings, load_sampler_settings
from streams.sampler.state import retention_cutoff

CONSUMER = "sampler"
log = structlog.get_logger("roasloop.sampler")


@dataclass
class SamplerRuntime:
    settings: SamplerSettings
    prior_source: PriorSource = field(default_factory=NullPriorSource)
    """Cold-start priors (``streams.sampler.priors``); off (zero strength) unless one is given."""
    owned: set[tuple[str, str]] = field(default_factory=set)
    assigned: set[int] = field(default_factory=set)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def partition_of(tenant_id: str, group_id: str, partitions: int = GROUP_PARTITIONS) -> int:
    """The partition the catalog's key sends a group to (the Java client's murmur2, as aiokafka)."""
    return int(DefaultPartitioner()(group_key(tenant_id, group_id), list(range(partitions)), list(range(partitions))))


async def ingest(res: Resources, rt: SamplerRuntime, event: RevenueRecognized | SpendReported,
                 position: store.Position | None = None) -> int | None:
    """Apply one event in one transaction; return events since the group's last decision (None: duplicate).

    ``position`` (where the event was read) advances the group's evidence mark in the same
    transaction, so a decision can say exactly which records it saw."""
    model = rt.settings.model()
    minimum = rt.settings.platform_min_budget_minor
    async with res.pool.acquire() as conn, conn.transaction():
        if not await claim(conn, CONSUMER, event.event_id):
            return None
        currency = event.spend.currency if isinstance(event, SpendReported) else event.amount.currency
        count = await store.touch_group(conn, event.tenant_id, event.group_id, event.campaign_id, currency,
                                        event.occurred_at, position)
        if isinstance(event, SpendReported):
            await store.apply_spend(conn, event, minimum)
        else:
            await store.apply_revenue(conn, event, model, minimum)
        now = res.clock.now()
        state = await store.load_group(conn, event.tenant_id, event.group_id, model, retention_cutoff(now, model))
        ids = state.active_entities(now.date(), model.entity_ttl_days)
        if ids:
            posterior = state.posterior(ids, now, model, external_priors(rt.prior_source, ids))
            await store.save_posterior(conn, state, posterior, now)
    rt.owned.add((event.tenant_id, event.group_id))
    return count


async def decide_group(res: Resources, rt: SamplerRuntime, tenant_id: str, group_id: str) -> bool:
    """Decide one group and publish; False when there was nothing to allocate."""
    async with rt.lock:
        model = rt.settings.model()
        now = res.clock.now()
        # One snapshot: the evidence mark and the facts must describe the same applied events,
        # while the subscriber keeps applying new ones.
        async with res.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            row = await store.group_row(conn, tenant_id, group_id)
            if row is None:
                return False
            state = await store.load_group(conn, tenant_id, group_id, model, retention_cutoff(now, model), row)
        paused = await paused_for(res.pool, tenant_id, row.campaign_id)
        outcome = decide(state, row, now, rt.settings, paused, rt.prior_source)
        if outcome is None:
            return False
        publisher = res.publisher
        await publisher.publish(outcome.decision)
        for request in outcome.requests:
            await publisher.publish(request)
        async with res.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO sampler_decisions"
                " (decision_id, tenant_id, group_id, decided_at, paused, requests, payload)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (decision_id) DO NOTHING",
                outcome.decision.decision_id, tenant_id, group_id, now, outcome.decision.paused,
                len(outcome.requests), outcome.decision.model_dump(mode="json"),
            )
            await store.mark_decided(conn, tenant_id, group_id, now)
        log.info("allocation_decided", tenant_id=tenant_id, group_id=group_id,
                 decision_id=outcome.decision.decision_id, paused=outcome.decision.paused,
                 requests=len(outcome.requests))
        return True


def due(last_decided_at: Any, now: Any, seconds: float) -> bool:
    return last_decided_at is None or now - last_decided_at >= timedelta(seconds=seconds)


async def scheduler(res: Resources, rt: SamplerRuntime) -> None:
    """Decide every owned group at least every ``schedule_seconds`` (checked once a minute, or faster).

    ``schedule_seconds`` are the clock's seconds: on a sped-up clock (``roasloop dev``) the check
    runs as often in wall time as the schedule needs, or a simulated week would pass between checks.

    The heartbeat is wall time (a replay clock's ``sleep`` returns at once and would spin); whether a
    group is due is judged on the stage's clock, so a replay decides on event time.
    """
    every = rt.settings.schedule_seconds
    wall_seconds = getattr(res.clock, "wall_seconds", None)  # a sped-up clock: its seconds pass faster
    schedule_wall = float(wall_seconds(every)) if callable(wall_seconds) else every
    tick = max(min(60.0, schedule_wall / 4), 0.05)
    while True:
        await asyncio.sleep(tick)
        for tenant_id, group_id in sorted(rt.owned):
            row = await store.group_row(res.pool, tenant_id, group_id)
            if row is not None and due(row.last_decided_at, res.clock.now(), rt.settings.schedule_seconds):
                try:
                    await decide_group(res, rt, tenant_id, group_id)
                except Exception:
                    log.exception("scheduled_decision_failed", tenant_id=tenant_id, group_id=group_id)


class _Ownership(ConsumerRebalanceListener):  # type: ignore[misc]
    """On assignment, the groups of the assigned partitions become this instance's to schedule."""

    def __init__(self, res: Resources, rt: SamplerRuntime) -> None:
        self.res, self.rt = res, rt

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        gone = {tp.partition for tp in revoked}
        self.rt.assigned -= gone
        self.rt.owned = {g for g in self.rt.owned if partition_of(*g) not in gone}

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self.rt.assigned |= {tp.partition for tp in assigned}
        try:
            groups = await store.all_groups(self.res.pool)
        except Exception:  # the pool may not be open yet on the very first assignment
            return
        self.rt.owned |= {(g.tenant_id, g.group_id) for g in groups
                          if partition_of(g.tenant_id, g.group_id) in self.rt.assigned}


def _decode(body: bytes) -> RevenueRecognized | SpendReported:
    event = decode(body)
    if not isinstance(event, RevenueRecognized | SpendReported):
        raise PoisonMessage(f"the sampler reads RevenueRecognized and SpendReported, not {event.event_type}")
    return event


def make_stage(settings: SamplerSettings | None = None, prior_source: PriorSource | None = None) -> Stage:
    runtime: dict[str, SamplerRuntime] = {}

    def register(res: Resources) -> None:
        rt = runtime["rt"] = SamplerRuntime(settings or load_sampler_settings(), prior_source or NullPriorSource())
        # one subscription to both co-partitioned topics (same options as Resources.subscriber)
        subscriber = res.broker.subscriber(
            topic_name(res.settings, REVENUE), topic_name(res.settings, SPEND),
            group_id=group_name(res.settings, CONSUMER), auto_offset_reset="earliest",
            ack_policy=AckPolicy.NACK_ON_ERROR, listener=_Ownership(res, rt),
            decoder=lambda msg: _decode(msg.body),
        )

        @subscriber
        async def handle(event: RevenueRecognized | SpendReported, msg: KafkaMessage) -> None:
            record: Any = msg.raw_message
            position = store.Position(unprefixed(res.settings, record.topic), record.partition, record.offset)
            count = await ingest(res, rt, event, position)
            if count is None or count < rt.settings.significant_events:
                return
            row = await store.group_row(res.pool, event.tenant_id, event.group_id)
            if row is not None and due(row.last_decided_at, res.clock.now(), rt.settings.debounce_seconds):
                await decide_group(res, rt, event.tenant_id, event.group_id)

    async def on_start(res: Resources) -> None:
        res.spawn(scheduler(res, runtime["rt"]), name="sampler-scheduler")

    return Stage(name="sampler", register=register, on_start=on_start)


stage = make_stage()


def __getattr__(name: str) -> object:
    if name == "app":
        from streams.core.faststream_app import faststream_app

        return faststream_app(stage)
    raise AttributeError(name)
