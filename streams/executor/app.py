"""The executor stage: consumes ``budget.requests.v1`` and ``budget.reviews.v1`` (group ``executor``),
changes budgets on Meta.

It deviates from the shared decode -> claim -> apply -> ack shape (:mod:`streams.core.process`) on
purpose: a request is only *scheduled* when it arrives (after a jitter, per campaign in order), so
committing when the handler returns would commit requests that have not run. It subscribes with
``AckPolicy.MANUAL`` and commits, from :mod:`.offsets`, the lowest offset still in flight per
partition (:mod:`.consumer`); its exactly-once rests on the ``change_id`` of the audit trail rather
than an inbox row. Tests and benchmarks inject a Meta gateway (the sandbox stand-in) and a jitter;
``stage`` is the production wiring: dry-run when no ``META_ACCESS_TOKEN`` is set. On start the
executor settles intents a previous process left ``executing`` before it consumes. A record a
foreign producer put on another partition than murmur2 says is moved there, not applied where it
landed (:mod:`.consumer`), so one instance owns a group's guardrails.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiokafka import ConsumerRebalanceListener
from faststream import AckPolicy
from faststream.kafka import KafkaMessage

from schemas.topics import BUDGET_REQUESTS, BUDGET_REVIEWS
from streams.core.dlq import dead_letters_of
from streams.core.faststream_app import lazy_app
from streams.core.stage import DEFAULT_BATCHING, Resources, Stage, raw_body
from streams.executor.consumer import Jitter, RequestConsumer
from streams.executor.executor import Executor, MetaGateway
from streams.executor.settings import ExecutorSettings, load_executor_settings
from streams.integrations.meta import BackoffPolicy, MetaClient

GROUP = "executor"

MetaFactory = Callable[[Resources, ExecutorSettings], MetaGateway | None]


def meta_from_settings(res: Resources, settings: ExecutorSettings) -> MetaGateway | None:
    """A Graph API client from META_* settings, or None (dry-run) without credentials."""
    core = res.settings
    if core.meta_dry_run or core.meta_access_token is None or core.meta_app_secret is None:
        return None
    policy = BackoffPolicy(settings.backoff_base_seconds, settings.backoff_max_seconds, settings.meta_max_attempts,
                           settings.usage_high_water_pct, settings.usage_pause_seconds)
    return MetaClient.create(graph_url=core.meta_graph_url, version=core.meta_api_version,
                             access_token=core.meta_access_token, app_secret=core.meta_app_secret,
                             clock=res.clock, timeout_seconds=settings.meta_timeout_seconds, policy=policy)


class ExecutorStage(Stage):
    name = "executor"

    def __init__(self, settings: ExecutorSettings | None = None, *, meta: MetaFactory = meta_from_settings,
                 jitter: Jitter | None = None) -> None:
        self._settings = settings
        self.meta_factory = meta
        self.jitter = jitter
        self.consumer: RequestConsumer | None = None
        """The running request consumer (from start to stop)."""

    @property
    def settings(self) -> ExecutorSettings:
        if self._settings is None:
            self._settings = load_executor_settings()
        return self._settings

    def subscribe(self, res: Resources) -> None:
        batching = DEFAULT_BATCHING
        dead_letter = dead_letters_of(res.broker).dead_letter

        @res.subscriber(BUDGET_REQUESTS, BUDGET_REVIEWS, group=GROUP,  # type: ignore[untyped-decorator]
                        ack_policy=AckPolicy.MANUAL, listener=_Rebalances(self), decoder=raw_body, batch=True,
                        max_records=batching.max_records, batch_timeout_ms=batching.timeout_ms,
                        fetch_max_bytes=batching.max_bytes)
        async def on_requests(_: Any, msg: KafkaMessage) -> None:
            if self.consumer is None:
                raise RuntimeError("executor stage not started")
            await self.consumer.on_records(list(msg.raw_message), msg.consumer, dead_letter)

    async def start(self, res: Resources) -> None:
        settings = self.settings
        executor = Executor(res.pool, res.clock, settings, self.meta_factory(res, settings), res.publisher.publish,
                            publish_many=res.publisher.publish_many)
        await executor.reconcile()
        self.consumer = RequestConsumer(executor, res.clock, settings, self.jitter, move=res.publisher.publish)
        res.spawn(self.consumer.commit_loop(), name="executor-commits")
        res.spawn(self.consumer.expiry_loop(), name="executor-approval-expiry")

    async def stop(self, res: Resources) -> None:
        consumer, self.consumer = self.consumer, None
        if consumer is not None:
            await consumer.scheduler.drop()
            await consumer.batches.close()
            if isinstance(consumer.executor.meta, MetaClient):
                await consumer.executor.meta.aclose()


class _Rebalances(ConsumerRebalanceListener):  # type: ignore[misc]
    """Forwards rebalance callbacks to the stage's running consumer (created later, in start)."""

    def __init__(self, stage: ExecutorStage) -> None:
        self.stage = stage

    async def on_partitions_revoked(self, revoked: Any) -> None:
        if self.stage.consumer is not None:
            await self.stage.consumer.on_partitions_revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        if self.stage.consumer is not None:
            await self.stage.consumer.on_partitions_assigned(set(assigned))


stage = ExecutorStage()
__getattr__ = lazy_app(stage)
