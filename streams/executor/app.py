"""The executor stage: consumes ``budget.requests.v1`` (group ``executor``), changes budgets on Meta.

``build_stage`` exists so tests and benchmarks can inject a Meta gateway (the sandbox stand-in)
and a jitter; ``stage`` is the production wiring: dry-run when no ``META_ACCESS_TOKEN`` is set.
On start the executor settles intents a previous process left ``executing`` before it consumes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiokafka import ConsumerRebalanceListener
from faststream import AckPolicy
from faststream.kafka import KafkaMessage

from schemas.events import BudgetChangeSettled
from schemas.topics import BUDGET_REQUESTS
from streams.core.stage import Resources, Stage
from streams.executor.consumer import Jitter, RequestConsumer
from streams.executor.executor import Executor, MetaGateway
from streams.executor.settings import ExecutorSettings, load_executor_settings
from streams.integrations.meta import BackoffPolicy, MetaClient

GROUP = "executor"
STATE_KEY = "executor"

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


def build_stage(settings: ExecutorSettings | None = None, *, meta: MetaFactory = meta_from_settings,
                jitter: Jitter | None = None) -> Stage:
    holder: dict[str, Any] = {}

    def consumer_of(res: Resources) -> RequestConsumer:
        found = res.extras.get(STATE_KEY)
        assert isinstance(found, RequestConsumer), "executor stage not started"
        return found

    def register(res: Resources) -> None:
        holder["settings"] = settings or load_executor_settings()

        @res.subscriber(BUDGET_REQUESTS, GROUP, ack_policy=AckPolicy.MANUAL,  # type: ignore[untyped-decorator]
                        listener=_Listener(res), decoder=lambda msg: msg.body)
        async def on_request(body: bytes, msg: KafkaMessage) -> None:
            await consumer_of(res).on_message(msg)

    async def on_start(res: Resources) -> None:
        exec_settings: ExecutorSettings = holder["settings"]
        gateway = meta(res, exec_settings)
        publisher = res.publisher

        async def publish(event: BudgetChangeSettled) -> None:
            await publisher.publish(event)

        executor = Executor(res.pool, res.clock, exec_settings, gateway, publish)
        await executor.reconcile()
        consumer = RequestConsumer(executor, res.clock, exec_settings, jitter)
        res.extras[STATE_KEY] = consumer
        res.spawn(consumer.commit_loop(), name="executor-commits")

    async def on_stop(res: Resources) -> None:
        consumer = res.extras.pop(STATE_KEY, None)
        if isinstance(consumer, RequestConsumer):
            await consumer.scheduler.drop()
            gateway = consumer.executor.meta
            if isinstance(gateway, MetaClient):
                await gateway.aclose()

    return Stage(name="executor", register=register, on_start=on_start, on_stop=on_stop)


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Forwards rebalance callbacks to the running consumer (created later, in on_start)."""

    def __init__(self, res: Resources) -> None:
        self.res = res

    async def on_partitions_revoked(self, revoked: Any) -> None:
        consumer = self.res.extras.get(STATE_KEY)
        if isinstance(consumer, RequestConsumer):
            await consumer.on_partitions_revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        consumer = self.res.extras.get(STATE_KEY)
        if isinstance(consumer, RequestConsumer):
            await consumer.on_partitions_assigned(set(assigned))


stage = build_stage()


def __getattr__(name: str) -> object:
    if name == "app":
        from streams.core.faststream_app import faststream_app

        return faststream_app(stage)
    raise AttributeError(name)
