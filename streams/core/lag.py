"""Consumer lag per partition, from the consumers' own fetch positions (no extra broker calls).

aiokafka tracks each assigned partition's high watermark from fetch responses; lag is that
minus the consumer's position. A stage that keeps up shows 0; the gauge is what an operator
watches after a restart or a rebalance, and what the chaos run waits on to be drained.
"""

from __future__ import annotations

import asyncio
from typing import Any

from faststream.kafka import KafkaBroker

from streams.core.metrics import CONSUMER_LAG


def consumers(broker: KafkaBroker) -> list[tuple[str, Any]]:
    found = []
    for subscriber in broker.subscribers:
        group = getattr(subscriber, "group_id", None) or ""
        for consumer in getattr(subscriber, "consumer_subgroup", None) or [getattr(subscriber, "consumer", None)]:
            if consumer is not None:
                found.append((group, consumer))
    return found


def observe_lag(broker: KafkaBroker) -> dict[tuple[str, str, int], int]:
    """Update the lag gauge for every assigned partition; return what was observed."""
    observed: dict[tuple[str, str, int], int] = {}
    for group, consumer in consumers(broker):
        try:
            assignment = consumer.assignment()
        except Exception:
            continue
        for tp in assignment:
            highwater = consumer.highwater(tp)
            try:
                position = consumer._subscription.subscription.assignment.state_value(tp).position
            except Exception:
                position = None
            if highwater is None or position is None:
                continue
            lag = max(0, highwater - position)
            CONSUMER_LAG.labels(group=group, topic=tp.topic, partition=str(tp.partition)).set(lag)
            observed[(group, tp.topic, tp.partition)] = lag
    return observed


async def lag_loop(broker: KafkaBroker, interval: float = 5.0) -> None:
    while True:
        observe_lag(broker)
        await asyncio.sleep(interval)
