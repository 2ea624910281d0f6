"""The chaos run's broker keeps its topics and committed offsets across its own restart."""

from __future__ import annotations

from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import TopicPartition

from bench.chaos.broker import RestartableBroker


async def _records(bootstrap: str, group: str) -> int:
    consumer = AIOKafkaConsumer("kept", bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest",
                                enable_auto_commit=False)
    await consumer.start()
    try:
        seen = 0
        for _ in range(5):
            batch = await consumer.getmany(timeout_ms=1_000)
            seen += sum(len(v) for v in batch.values())
        await consumer.commit()
        return seen
    finally:
        await consumer.stop()


async def test_a_restarted_broker_still_has_the_records_and_the_groups_offsets(tmp_path: Path) -> None:
    with RestartableBroker(tmp_path / "broker.log") as broker:
        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
        await admin.start()
        await admin.create_topics([NewTopic("kept", 2, 1)])
        await admin.close()
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers)
        await producer.start()
        for i in range(20):
            await producer.send_and_wait("kept", b"v", key=b"k%d" % i)
        await producer.stop()
        assert await _records(broker.bootstrap_servers, "before") == 20

        broker.restart()

        assert await _records(broker.bootstrap_servers, "after") == 20  # the records are still there
        reader = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap_servers, group_id="before",
                                  enable_auto_commit=False)
        await reader.start()
        try:
            committed = [await reader.committed(TopicPartition("kept", p)) for p in range(2)]
        finally:
            await reader.stop()
        assert sum(c or 0 for c in committed) == 20  # and so is where the group had got to
