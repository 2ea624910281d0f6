"""What a stage is, and how one or many of them run in a process.

A :class:`Stage` is one object: its name, the topics it consumes, its HTTP routes, and the state it
owns between :meth:`~Stage.start` and :meth:`~Stage.stop` (typed attributes, not a dict of extras).
:class:`StageRunner` gives stages their shared :class:`Resources` - settings, a database pool, a
broker (one per process: every subscriber and the publisher share its connection), a clock - and
starts and stops them in order. The same runner serves ``roasloop run <stage>`` (one stage) and
``roasloop dev`` (all of them).

Consuming has one shape (:mod:`streams.core.process`): ``res.consume(topics, group=..., processor=...)``
decodes, claims inbox rows, applies, publishes and acks; ``res.subscriber`` is the lower-level
door for a stage whose semantics need another ack discipline (the executor's), with the same
consumer-group settings and dead-letter rules.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

import asyncpg
import structlog
from aiokafka import ConsumerRebalanceListener
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from starlette.routing import BaseRoute

from schemas.codec import InvalidEvent, decode
from schemas.envelope import Envelope
from schemas.topics import Topic
from streams.core.batches import one_by_one
from streams.core.broker import make_broker
from streams.core.clock import Clock, WallClock
from streams.core.db import create_pool
from streams.core.dlq import POISON, classify, dead_letters_of
from streams.core.lag import lag_loop
from streams.core.naming import group_name, topic_name, unprefixed
from streams.core.partition_check import check_partitions
from streams.core.process import Consumed, Effects, Processor
from streams.core.pruning import prune_loop
from streams.core.publish import Publisher
from streams.core.settings import Settings

log = structlog.get_logger("roasloop.stage")


@dataclass(frozen=True)
class Batching:
    """What bounds a batch: records, bytes per fetch, and how long the consumer waits to fill one.

    Bigger batches amortise the transaction, the publish round trip and the offset commit; the
    bounds keep a batch's latency (``timeout_ms``) and memory (``max_bytes``) small.
    """

    max_records: int = 500
    timeout_ms: int = 200
    max_bytes: int = 8 * 1024 * 1024


#: What a consuming stage uses unless it says otherwise: batches, because per-record transactions,
#: publishes and commits cost the broker's throughput a hundredfold.
DEFAULT_BATCHING = Batching()


@dataclass
class Resources:
    """Everything a stage's handlers reach for. The pool exists once the runner started."""

    settings: Settings
    broker: KafkaBroker
    clock: Clock = field(default_factory=WallClock)
    _pool: asyncpg.Pool[Any] | None = None
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    _publisher: Publisher | None = None

    def spawn(self, coro: Awaitable[Any], name: str | None = None) -> asyncio.Task[Any]:
        """Run a background loop (scheduler, poller) that is cancelled when the stages stop."""
        task = asyncio.ensure_future(coro)
        if name:
            task.set_name(name)
        self._tasks.append(task)
        return task

    @property
    def pool(self) -> asyncpg.Pool[Any]:
        if self._pool is None:
            raise RuntimeError("the database pool is not open yet (stage not started)")
        return self._pool

    @property
    def publisher(self) -> Publisher:
        if self._publisher is None:
            self._publisher = Publisher(self.broker, self.settings)
        return self._publisher

    def subscriber(self, *topics: Topic, group: str, listener: ConsumerRebalanceListener | None = None,
                   batch: bool = False, **options: Any) -> Any:
        """A subscriber with roasloop's delivery rules: commit after the effect, DLQ for poison.

        ``NACK_ON_ERROR`` commits only after the handler returns and seeks back on failure; the
        dead-letter middleware turns poison into a DLQ record plus a normal return. The consumer
        group's liveness (``ROASLOOP_KAFKA_SESSION_TIMEOUT_MS`` / ``_HEARTBEAT_INTERVAL_MS``)
        comes from the shared settings. Several topics are assigned with the *range* assignor,
        which gives one member partition *p* of every topic: co-partitioned topics (same key,
        same partition count) are then owned together, which is what joins them. Without a
        ``decoder`` the handler receives the topics' event models, validated, with ``tenant_id``
        and ``event_id`` bound to the log context.
        """
        if not batch:
            options.setdefault("decoder", event_decoder(*(t.model for t in topics)))
        if len(topics) > 1:
            options.setdefault("partition_assignment_strategy", (RangePartitionAssignor,))
        options.setdefault("auto_offset_reset", "earliest")
        options.setdefault("ack_policy", AckPolicy.NACK_ON_ERROR)
        options.setdefault("session_timeout_ms", self.settings.kafka_session_timeout_ms)
        options.setdefault("heartbeat_interval_ms", self.settings.kafka_heartbeat_interval_ms)
        names = [topic_name(self.settings, t) for t in topics]
        return self.broker.subscriber(*names, group_id=group_name(self.settings, group), batch=batch,
                                      listener=listener, **options)

    def consume(self, *topics: Topic, group: str, processor: Processor[Any, Any],
                listener: ConsumerRebalanceListener | None = None,
                batching: Batching | None = DEFAULT_BATCHING) -> None:
        """Subscribe ``processor`` to ``topics`` in consumer group ``group`` (see :mod:`streams.core.process`).

        With ``batching`` (the default) up to ``max_records`` records come at once, each decoded on
        its own so a poison record is dead-lettered alone; ``None`` makes every record its own batch.
        """
        models = tuple(t.model for t in topics)
        if batching is None:
            @self.subscriber(*topics, group=group, listener=listener)  # type: ignore[untyped-decorator]
            async def one(event: Any, msg: KafkaMessage) -> None:
                await self.process(processor, [self._consumed(event, msg.raw_message)])
            return

        @self.subscriber(*topics, group=group, listener=listener, batch=True,  # type: ignore[untyped-decorator]
                         max_records=batching.max_records, batch_timeout_ms=batching.timeout_ms,
                         fetch_max_bytes=batching.max_bytes, decoder=lambda msg: msg.body)
        async def many(_: Any, msg: KafkaMessage) -> None:
            consumed: list[Consumed[Any]] = []
            for record in msg.raw_message:
                try:
                    event = decode_event(record.value or b"", models)
                except POISON as exc:
                    await dead_letters_of(self.broker).dead_letter(record, exc, 1)
                    continue
                consumed.append(self._consumed(event, record))
            if consumed:
                await self.process(processor, consumed)

    def _consumed(self, event: Envelope, record: Any) -> Consumed[Any]:
        return Consumed(event, unprefixed(self.settings, record.topic), record.partition, record.offset, record)

    @asynccontextmanager
    async def effects(self) -> AsyncIterator[Effects]:
        """One transaction whose emitted events are published (and acked) before it commits."""
        async with self.pool.acquire() as conn, conn.transaction():
            fx = Effects(conn, self.clock.now())
            yield fx
            await self.publisher.publish_many(fx.emitted)

    async def process(self, processor: Processor[Any, Any], batch: Sequence[Consumed[Any]]) -> None:
        """Claim, apply and publish ``batch`` in one transaction; then run the processor's ``after``.

        If the batch fails for a reason that is not transient, its records are applied again one
        per transaction (:func:`streams.core.batches.one_by_one`), so a poison record goes alone
        to its dead-letter topic and its neighbours proceed.
        """
        try:
            await self._process(processor, batch)
        except Exception as exc:
            if len(batch) == 1 or classify(exc) == "transient":
                raise
            await one_by_one(self, processor, batch, exc)

    async def _process(self, processor: Processor[Any, Any], batch: Sequence[Consumed[Any]]) -> None:
        async with self.effects() as fx:
            fresh = await processor.fresh(fx, batch)
            if not fresh:
                return
            result = await processor.apply(fx, fresh)
        if processor.after is not None:
            await processor.after(result)


def decode_event(raw: bytes, models: tuple[type[Envelope], ...]) -> Envelope:
    """Decode a record into one of ``models`` (the event types its topic carries), else InvalidEvent."""
    event = decode(raw)
    if not isinstance(event, models):
        expected = " or ".join(m.__name__ for m in models)
        raise InvalidEvent(f"event_type: expected {expected}, got {event.event_type!r}")
    return event


async def raw_body(msg: Any) -> Any:
    """A FastStream decoder that hands the handler the record's bytes, or a batch's list of them
    (it decodes them itself).

    Async on purpose: FastStream runs a *sync* decoder in a worker thread, one thread hop per
    call (several per record) - measured at ~14 ms a record on the executor's intake, which
    capped it near 70 records/s however fast the handler was."""
    return msg.body


def event_decoder(*models: type[Envelope]) -> Callable[[Any], Envelope]:
    def decoder(msg: Any) -> Envelope:
        event = decode_event(msg.body, models)
        structlog.contextvars.bind_contextvars(tenant_id=event.tenant_id, event_id=event.event_id)
        return event

    return decoder


class Stage:
    """One stage: what it consumes and serves, and the state it owns while it runs.

    A subclass sets ``name`` and overrides what it needs. Its constructor must not read the
    environment or open anything (``streams.<stage>.app`` builds the default instance at import);
    :meth:`subscribe` reads the stage's settings, :meth:`start` opens what the stage holds.
    """

    name: ClassVar[str]
    needs_database: ClassVar[bool] = True

    def subscribe(self, res: Resources) -> None:
        """Add this stage's subscribers (``res.consume`` / ``res.subscriber``); once, before start."""

    def routes(self, res: Resources) -> Sequence[BaseRoute]:
        """HTTP routes this stage serves beside ``/healthz``, ``/readyz``, ``/metrics``, ``/openapi.json``."""
        return ()

    def openapi_paths(self) -> dict[str, Any]:
        """This stage's routes as OpenAPI path items (:mod:`streams.core.openapi`)."""
        return {}

    async def start(self, res: Resources) -> None:
        """After the pool is open and before consuming starts (rebuild caches, reconcile, spawn loops)."""

    async def stop(self, res: Resources) -> None:
        """After consuming stopped and before the pool closes."""


@dataclass
class StageRunner:
    stages: Sequence[Stage]
    settings: Settings
    clock: Clock = field(default_factory=WallClock)
    resources: Resources = field(init=False)
    started: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        names = ",".join(s.name for s in self.stages) or "none"
        broker = make_broker(self.settings, client_id=f"roasloop-{names}")
        self.resources = Resources(settings=self.settings, broker=broker, clock=self.clock)
        for stage in self.stages:
            stage.subscribe(self.resources)

    @property
    def routes(self) -> list[BaseRoute]:
        return [route for stage in self.stages for route in stage.routes(self.resources)]

    async def open(self) -> None:
        """Everything but consuming: pool, producer connection, the stages' start hooks."""
        await check_partitions(self.settings)  # co-partitioning holds, or no start (PartitionsMismatch)
        if any(s.needs_database for s in self.stages):
            self.resources._pool = await create_pool(self.settings)
        await self.resources.broker.connect()
        for stage in self.stages:
            await stage.start(self.resources)

    async def close(self) -> None:
        """Undo :meth:`open`, after the broker stopped consuming."""
        self.started = False
        tasks, self.resources._tasks = self.resources._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for stage in reversed(self.stages):
            try:
                await stage.stop(self.resources)
            except Exception:
                log.exception("stage_stop_failed", stage=stage.name)
        if self.resources._pool is not None:
            await self.resources._pool.close()
            self.resources._pool = None

    async def start(self) -> None:
        await self.open()
        await self.resources.broker.start()
        self.resources.spawn(lag_loop(self.resources.broker), name="consumer-lag")
        if self.resources._pool is not None:
            self.resources.spawn(prune_loop(self.resources.pool, self.settings, self.clock), name="pruning")
        self.started = True
        log.info("stages_started", stages=[s.name for s in self.stages])

    async def stop(self) -> None:
        self.started = False
        await self.resources.broker.stop()
        await self.close()

    async def ready(self) -> bool:
        if not self.started:
            return False
        try:
            if self.resources._pool is not None:
                async with self.resources.pool.acquire(timeout=2) as conn:
                    await conn.fetchval("SELECT 1")
            return bool(await self.resources.broker.ping(timeout=2))
        except Exception:
            return False
