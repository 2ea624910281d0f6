"""Publishing events: the catalog picks the topic and the key, so routing can't drift."""

from __future__ import annotations

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
        """Publish a batch concurrently-enough: one awaited send each, in order per key."""
        batch: list[Any] = list(events)
        for event in batch:
            await self.publish(event, headers)
