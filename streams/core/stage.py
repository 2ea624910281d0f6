"""What a stage is, and how one or many of them run in a process.

A :class:`Stage` declares its consumer group, the subscribers it adds to a broker, optional
HTTP routes, and start/stop hooks. :class:`StageRunner` gives stages their shared
:class:`Resources` - settings, a database pool, a broker (one per process: all subscribers and
the publisher share its connection), a clock - and starts and stops them in order. The same
runner serves ``roasloop run <stage>`` (one stage) and ``roasloop dev`` (all of them).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import structlog
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from starlette.routing import BaseRoute

from schemas.codec import decode_as
from schemas.envelope import Envelope
from schemas.topics import Topic
from streams.core.broker import make_broker
from streams.core.clock import Clock, WallClock
from streams.core.db import create_pool
from streams.core.lag import lag_loop
from streams.core.naming import group_name, topic_name
from streams.core.publish import Publisher
from streams.core.settings import Settings

log = structlog.get_logger("roasloop.stage")


@dataclass
class Resources:
    """Everything a stage's handlers reach for. The pool exists once the runner started."""

    settings: Settings
    broker: KafkaBroker
    clock: Clock = field(default_factory=WallClock)
    _pool: asyncpg.Pool[Any] | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)

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
        return Publisher(self.broker, self.settings)

    def subscriber(self, topic: Topic, group: str, *, batch: bool = False, **options: Any) -> Any:
        """A subscriber with roasloop's delivery rules: commit after the effect, DLQ for poison.

        ``NACK_ON_ERROR`` commits only after the handler returns and seeks back on failure; the
        dead-letter middleware turns poison into a DLQ record plus a normal return. Without a
        ``decoder`` the handler receives the topic's event model, validated, with ``tenant_id``
        and ``event_id`` bound to the log context.
        """
        if not batch:
            options.setdefault("decoder", event_decoder(topic.model))
        options.setdefault("auto_offset_reset", "earliest")
        options.setdefault("ack_policy", AckPolicy.NACK_ON_ERROR)
        options.setdefault("session_timeout_ms", self.settings.kafka_session_timeout_ms)
        options.setdefault("heartbeat_interval_ms", self.settings.kafka_heartbeat_interval_ms)
        return self.broker.subscriber(
            topic_name(self.settings, topic), group_id=group_name(self.settings, group), batch=batch, **options
        )


def event_decoder(model: type[Envelope]) -> Callable[[Any], Envelope]:
    def decode(msg: Any) -> Envelope:
        event = decode_as(msg.body, model)
        structlog.contextvars.bind_contextvars(tenant_id=event.tenant_id, event_id=event.event_id)
        return event

    return decode


Hook = Callable[[Resources], Awaitable[None]]


@dataclass
class Stage:
    name: str
    register: Callable[[Resources], None]
    """Add this stage's subscribers to ``resources.broker`` (closures over ``resources``)."""
    routes: Callable[[Resources], Sequence[BaseRoute]] = lambda _: ()
    on_start: Hook | None = None
    """Runs after the pool is open and before consuming starts (rebuild caches, reconcile)."""
    on_stop: Hook | None = None
    needs_database: bool = True


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
            stage.register(self.resources)

    @property
    def routes(self) -> list[BaseRoute]:
        return [route for stage in self.stages for route in stage.routes(self.resources)]

    async def open(self) -> None:
        """Everything but consuming: pool, producer connection, the stages' start hooks."""
        if any(s.needs_database for s in self.stages):
            self.resources._pool = await create_pool(self.settings)
        await self.resources.broker.connect()
        for stage in self.stages:
            if stage.on_start:
                await stage.on_start(self.resources)

    async def close(self) -> None:
        """Undo :meth:`open`, after the broker stopped consuming."""
        self.started = False
        tasks, self.resources._tasks = self.resources._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for stage in reversed(self.stages):
            if stage.on_stop:
                try:
                    await stage.on_stop(self.resources)
                except Exception:
                    log.exception("stage_stop_failed", stage=stage.name)
        if self.resources._pool is not None:
            await self.resources._pool.close()
            self.resources._pool = None

    async def start(self) -> None:
        await self.open()
        await self.resources.broker.start()
        self.resources.spawn(lag_loop(self.resources.broker), name="consumer-lag")
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
