"""Refuse to start on topics whose partition count is not the catalog's.

Co-partitioning is what joins ``revenue.v1`` with ``spend.v1`` per allocation group: partition
*p* of each holds the same groups only when both have the same count. A topic created by hand (or
by a broker's auto-create) with another count silently splits a group's facts between two
instances; like Faust's ``PartitionsMismatch``, a stage refuses to start instead, naming the
topic and both counts. Topics that do not exist yet are left to ``roasloop topics create``.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiokafka.admin import AIOKafkaAdminClient

from streams.core.broker import client_options
from streams.core.naming import catalog_topics
from streams.core.settings import Settings

UNKNOWN_TOPIC = 3  # Kafka's UNKNOWN_TOPIC_OR_PARTITION


class PartitionsMismatch(RuntimeError):
    """A topic exists with a partition count other than the catalog's."""


def mismatches(wanted: Mapping[str, int], actual: Mapping[str, int]) -> list[str]:
    """One sentence per topic whose count differs, naming the topic and both counts."""
    return [f"topic {name!r} has {actual[name]} partitions, the catalog says {count}"
            for name, count in sorted(wanted.items()) if name in actual and actual[name] != count]


async def existing_partitions(settings: Settings, names: list[str]) -> dict[str, int]:
    """The partition count of each of ``names`` that exists on the broker."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        # only the listed ones: asking a broker that auto-creates (Tansu does) about a missing
        # topic would create it, with the broker's default count
        present = sorted(set(names) & set(await admin.list_topics()))
        described = await admin.describe_topics(present) if present else []
    finally:
        await admin.close()
    return {d["topic"]: len(d["partitions"]) for d in described
            if d.get("error_code", 0) != UNKNOWN_TOPIC and d["partitions"]}


async def check_partitions(settings: Settings, wanted: Mapping[str, int] | None = None) -> None:
    """Raise :class:`PartitionsMismatch` if an existing topic's count is not the catalog's (or ``wanted``)."""
    wanted = dict(wanted if wanted is not None else catalog_topics(settings))
    problems = mismatches(wanted, await existing_partitions(settings, sorted(wanted)))
    if problems:
        raise PartitionsMismatch(
            "; ".join(problems) + ". Co-partitioned topics must match the catalog (schemas/topics.py): "
            "recreate the topic with the catalog's count, or change the catalog and every co-partitioned "
            "topic together.")
