"""Topic and consumer-group names, with the optional prefix that isolates tests and tenants.

Every stage asks here instead of using a catalog name directly, so setting
``ROASLOOP_TOPIC_PREFIX`` moves a whole deployment (or one test) onto its own topics and groups.
"""

from __future__ import annotations

from schemas.topics import CATALOG, DLQ_SUFFIX, Topic
from streams.core.settings import Settings


def topic_name(settings: Settings, topic: Topic | str) -> str:
    name = topic if isinstance(topic, str) else topic.name
    return settings.topic_prefix + name


def group_name(settings: Settings, group: str) -> str:
    return settings.topic_prefix + group


def unprefixed(settings: Settings, name: str) -> str:
    prefix = settings.topic_prefix
    return name[len(prefix) :] if prefix and name.startswith(prefix) else name


def catalog_topics(settings: Settings, with_dlq: bool = True) -> dict[str, int]:
    """Every topic name to create, with its partition count (DLQs as their origin)."""
    wanted: dict[str, int] = {}
    for topic in CATALOG:
        wanted[topic_name(settings, topic)] = topic.partitions
        if with_dlq:
            wanted[topic_name(settings, topic) + DLQ_SUFFIX] = topic.partitions
    return wanted
