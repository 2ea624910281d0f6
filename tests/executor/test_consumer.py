"""Intake and rebalance handling of the request consumer, with a stand-in Kafka consumer."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiokafka import TopicPartition

from schemas import BudgetChangeRequested, BudgetChangeSettled, encode
from schemas.topics import BUDGET_REQUESTS
from streams.core.clock import WallClock
from streams.core.metrics import MISPLACED_RECORDS
from streams.core.partitions import group_partition
from streams.executor.consumer import RequestConsumer
from tests.executor.conftest import executor_settings, request

TP = TopicPartition("budget.requests.v1", 3)


@dataclass
class FakeKafka:
    assigned: set[TopicPartition] = field(default_factory=lambda: {TP})
    commits: list[dict[TopicPartition, int]] = field(default_factory=list)

    def assignment(self) -> set[TopicPartition]:
        return self.assigned

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(dict(offsets))


@dataclass
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes


@dataclass
class Msg:
    body: bytes
    raw_message: Record
    consumer: Any


class GatedExecutor:
    """Executes instantly, except entities listed in ``hold`` which wait for ``release``."""

    def __init__(self, hold: set[str]) -> None:
        self.hold = hold
        self.release = asyncio.Event()
        self.executed: list[str] = []
        self.sending: set[asyncio.Task[Any]] = set()

    async def execute(self, req: BudgetChangeRequested, **_: Any) -> BudgetChangeSettled | None:
        if req.entity_id in self.hold:
            await self.release.wait()
        self.executed.append(req.change_id)
        return None


def held_consumer(executor: GatedExecutor, settings: Any = None) -> RequestConsumer:
    """A consumer that already holds TP under epoch 1 (its claim lives in PostgreSQL, absent here)."""
    consumer = RequestConsumer(executor, WallClock(), settings or executor_settings())  # type: ignore[arg-type]
    consumer.epochs[TP] = 1
    return consumer


def msg(kafka: FakeKafka, offset: int, req: BudgetChangeRequested) -> Msg:
    return Msg(encode(req), Record(TP.topic, TP.partition, offset, f"acme:{req.group_id}".encode()), kafka)


async def test_revoke_commits_finished_work_up_to_the_lowest_in_flight_and_drops_the_rest() -> None:
    kafka = FakeKafka()
    executor = GatedExecutor(hold={"slow"})
    consumer = held_consumer(executor)
    held = request("slow", 10_000, campaign="c-slow")
    await consumer.on_message(msg(kafka, 10, held))  # type: ignore[arg-type]
    await consumer.on_message(msg(kafka, 11, request("quick", 10_000, campaign="c-quick")))  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    await consumer.on_partitions_revoked({TP})
    assert kafka.commits == [{TP: 10}]
    assert consumer.scheduler.size == 0
    executor.release.set()
    await asyncio.sleep(0.05)
    assert held.change_id not in executor.executed  # dropped: the next owner redoes it


async def test_a_record_of_a_partition_no_longer_assigned_is_left_to_its_new_owner() -> None:
    kafka = FakeKafka(assigned=set())
    executor = GatedExecutor(hold=set())
    consumer = RequestConsumer(executor, WallClock(), executor_settings())  # type: ignore[arg-type]
    await consumer.on_message(msg(kafka, 0, request("a", 10_000)))  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    assert executor.executed == [] and consumer.tracker.committable() == {}


async def test_intake_waits_when_max_in_flight_requests_are_held() -> None:
    kafka = FakeKafka()
    executor = GatedExecutor(hold={"a", "b"})
    consumer = held_consumer(executor, executor_settings(max_in_flight=1))
    await consumer.on_message(msg(kafka, 0, request("a", 10_000, campaign="x")))  # type: ignore[arg-type]
    second = asyncio.ensure_future(consumer.on_message(msg(kafka, 1, request("b", 10_000, campaign="y"))))  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    assert not second.done()
    executor.hold.discard("a")
    executor.release.set()
    await asyncio.wait_for(second, timeout=1)
    await consumer.scheduler.idle()
    await consumer.commit()
    assert kafka.commits[-1] == {TP: 2}


async def test_a_misplaced_request_is_moved_not_run_and_its_offset_waits_for_the_moves_ack() -> None:
    """A request whose group hashes to another partition is re-published there, never scheduled here;
    until the broker acks the copy its offset stays in flight, so a crash cannot lose it."""
    req = request("a", 10_000, campaign="c-moved")
    right = group_partition(req.tenant_id, req.group_id)
    wrong = TopicPartition(TP.topic, (right + 1) % BUDGET_REQUESTS.partitions)
    kafka = FakeKafka(assigned={wrong})
    executor = GatedExecutor(hold=set())
    acked = asyncio.Event()
    moved: list[Any] = []

    async def move(event: Any) -> None:
        await acked.wait()
        moved.append(event)

    consumer = RequestConsumer(executor, WallClock(), executor_settings(), move=move)  # type: ignore[arg-type]
    consumer.epochs[wrong] = 1
    before = MISPLACED_RECORDS.labels(topic=BUDGET_REQUESTS.name)._value.get()
    record = Msg(encode(req), Record(wrong.topic, wrong.partition, 7, f"acme:{req.group_id}".encode()), kafka)
    intake = asyncio.ensure_future(consumer.on_message(record))  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    assert consumer.tracker.committable() == {wrong: 7}  # the copy is not acked yet: nothing past it
    acked.set()
    await asyncio.wait_for(intake, timeout=1)
    await consumer.scheduler.idle()
    assert moved == [req] and executor.executed == []
    assert MISPLACED_RECORDS.labels(topic=BUDGET_REQUESTS.name)._value.get() == before + 1
    await consumer.commit()
    assert kafka.commits[-1] == {wrong: 8}


async def test_a_request_on_its_own_partition_is_run_and_not_moved() -> None:
    req = request("a", 10_000, campaign="c-home")
    home = TopicPartition(TP.topic, group_partition(req.tenant_id, req.group_id))
    kafka = FakeKafka(assigned={home})
    executor = GatedExecutor(hold=set())
    moved: list[Any] = []

    async def move(event: Any) -> None:
        moved.append(event)

    consumer = RequestConsumer(executor, WallClock(), executor_settings(), move=move)  # type: ignore[arg-type]
    consumer.epochs[home] = 1
    record = Msg(encode(req), Record(home.topic, home.partition, 0, f"acme:{req.group_id}".encode()), kafka)
    await consumer.on_message(record)  # type: ignore[arg-type]
    await consumer.scheduler.idle()
    assert executor.executed == [req.change_id] and moved == []
