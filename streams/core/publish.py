"""Publishing events: the catalog picks the topic and the key, so routing can't drift."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from faststream.kafka import KafkaBroker

from schemas.codec import encode
from schemas.envelope import Envelope
from schemas.topics import topic_for
from streams.core import tracing
from streams.core.metrics import MESSAGES_OUT
from streams.core.naming import topic_name
from streams.core.settings import Settings


class Publisher:
    def __init__(self, broker: KafkaBroker, settings: Settings) -> None:
        self.broker = broker
        self.settings = settings

    async def publish(self, event: Envelope, headers: dict[str, str] | None = None) -> None:
        """Publish and wait for the broker's acknowledgement (acks per settings)."""
        topic = topic_for(event)
        name = topic_name(self.settings, topic)
        await self.broker.publish(
            encode(event), topic=name, key=topic.key(event), headers={**tracing.headers(), **(headers or {})}
        )
        MESSAGES_OUT.labels(topic=topic.name).inc()

    async def publish_many(self, events: Iterable[Envelope], headers: dict[str, str] | None = None) -> None:
        """Publish a batch concurrently and return once the broker acknowledged every record.

        Each record is handed to the producer in order (``no_confirm`` returns once it is queued,
        so per-key order is the emission order), then all acks are awaited together: a batch costs
        one or a few broker round trips, not one per record. Any failed ack raises, so the caller's
        transaction rolls back and the batch is redelivered.
        """
        common = {**tracing.headers(), **(headers or {})}
        acks: list[Any] = []
        counts: dict[str, int] = {}
        for event in events:
            topic = topic_for(event)
            acks.append(await self.broker.publish(encode(event), topic=topic_name(self.settings, topic),
                                                  key=topic.key(event), headers=common, no_confirm=True))
            counts[topic.name] = counts.get(topic.name, 0) + 1
        if acks:
            await asyncio.gather(*acks)
        for name, count in counts.items():
            MESSAGES_OUT.labels(topic=name).inc(count)
