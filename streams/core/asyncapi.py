"""The AsyncAPI document a producer team reads instead of the code: channels, messages, keys, who reads.

FastStream generates each stage's document from its broker (:class:`faststream.specification.AsyncAPI`):
the topics every subscription reads. Its payloads are empty - roasloop's handlers take decoded
events through a custom decoder, not an annotated model - so this module fills them in from the
catalog: every catalog topic is a channel (those only producers write, like ``alerts.v1``, too),
its message's payload is the event's exported JSON Schema (``schemas.export``, with ``$defs``
inlined, as an AsyncAPI document has no room for a schema's local definitions), and the key and
the partitioner a producer must use are stated on the message. Each stage's subscriptions become
``receive`` operations naming the stage and its consumer group. ``roasloop schemas asyncapi``
writes it to ``docs/asyncapi.json``; the suite regenerates it and compares.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from faststream.specification import AsyncAPI

from schemas.envelope import Envelope
from schemas.export import wire_schema
from schemas.topics import CATALOG, Topic
from streams.core.settings import Settings, load_settings
from streams.core.stage import Stage, StageRunner

KAFKA_BINDING = "0.5.0"
PARTITIONER = ("Kafka's murmur2 of the key, as the Java client computes it: (murmur2(key) & 0x7fffffff) % "
               "partitions. librdkafka (kcat, confluent-kafka): partitioner=murmur2_random.")
KEYS = {"by_tenant": "tenant_id", "by_deal": "tenant_id:deal_id", "by_group": "tenant_id:group_id"}


def inline_refs(schema: Any, defs: dict[str, Any] | None = None) -> Any:
    """``schema`` with every ``{"$ref": "#/$defs/X"}`` replaced by ``X`` itself, and no ``$defs``."""
    if defs is None and isinstance(schema, dict):
        defs = schema.get("$defs", {})
    if isinstance(schema, dict):
        ref = schema.get("$ref", "")
        if isinstance(ref, str) and ref.startswith("#/$defs/") and defs is not None:
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            return inline_refs({**defs[ref.removeprefix("#/$defs/")], **rest}, defs)
        return {k: inline_refs(v, defs) for k, v in schema.items() if k != "$defs"}
    if isinstance(schema, list):
        return [inline_refs(v, defs) for v in schema]
    return schema


def message_payload(model: type[Envelope]) -> dict[str, Any]:
    """The exported JSON Schema of ``model`` as an AsyncAPI payload: inlined, without ``$id``/``$schema``."""
    schema = inline_refs(wire_schema(model))
    return {k: v for k, v in schema.items() if k not in ("$id", "$schema")}


def _channel(topic: Topic) -> dict[str, Any]:
    name = topic.model.__name__
    return {
        "address": topic.name,
        "title": topic.name,
        "description": f"{topic.description}. Key: {KEYS.get(topic.key_of.__name__, topic.key_of.__name__)} "
                       f"(UTF-8). {topic.partitions} partitions. Partitioner: {PARTITIONER}",
        "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        "bindings": {"kafka": {"topic": topic.name, "partitions": topic.partitions,
                               "bindingVersion": KAFKA_BINDING}},
    }


def _dlq_channel(topic: Topic) -> dict[str, Any]:
    return {
        "address": topic.dlq,
        "title": topic.dlq,
        "description": f"What no retry could apply from {topic.name}: the original bytes, with the origin and "
                       "the error in headers.",
        "messages": {"DeadLetter": {"$ref": "#/components/messages/DeadLetter"}},
        "bindings": {"kafka": {"topic": topic.dlq, "partitions": topic.partitions, "bindingVersion": KAFKA_BINDING}},
    }


def _message(topic: Topic) -> dict[str, Any]:
    name = topic.model.__name__
    return {
        "name": name,
        "title": name,
        "summary": (topic.model.__doc__ or name).strip().splitlines()[0],
        "contentType": "application/json",
        "payload": {"$ref": f"#/components/schemas/{name}"},
        "bindings": {"kafka": {"key": {"type": "string",
                                       "description": f"{KEYS.get(topic.key_of.__name__)}; {PARTITIONER}"},
                               "bindingVersion": KAFKA_BINDING}},
    }


def _stage_subscriptions(stage: Stage, settings: Settings) -> list[tuple[str, str]]:
    """``(topic, consumer group)`` for each topic the stage reads, as its FastStream broker declares them."""
    broker = StageRunner([stage], settings).resources.broker
    spec = AsyncAPI(broker, schema_version="3.0.0").to_specification().to_jsonable()
    groups = {topic: str(getattr(sub, "group_id", "") or "")
              for sub in broker.subscribers for topic in getattr(sub.specification, "topics", [])}
    addresses = sorted({channel["address"] for channel in spec.get("channels", {}).values()})
    return [(address, groups.get(address, "")) for address in addresses]


def asyncapi_document(stages: Sequence[Stage], settings: Settings | None = None) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of ``stages`` (unprefixed catalog names: the settings' prefix is dropped)."""
    settings = (settings or load_settings(kafka_bootstrap_servers="localhost:9092")).model_copy(
        update={"topic_prefix": ""})
    channels: dict[str, Any] = {}
    for topic in CATALOG:
        channels[topic.name] = _channel(topic)
        channels[topic.dlq] = _dlq_channel(topic)
    operations: dict[str, Any] = {}
    for stage in stages:
        for address, group in _stage_subscriptions(stage, settings):
            if address not in channels:
                raise ValueError(f"stage {stage.name} reads {address!r}, which is not in the catalog")
            message = next(iter(channels[address]["messages"]))
            operations[f"{stage.name}.{address}.receive"] = {
                "action": "receive",
                "title": f"{stage.name} reads {address}",
                "channel": {"$ref": f"#/channels/{address}"},
                "messages": [{"$ref": f"#/channels/{address}/messages/{message}"}],
                "bindings": {"kafka": {"groupId": {"type": "string", "enum": [group]},
                                       "bindingVersion": KAFKA_BINDING}},
                "x-stage": stage.name,
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "roasloop",
            "version": str(Envelope.SCHEMA_VERSION),
            "description": "Every topic roasloop reads or writes, its event's JSON Schema, its key and "
                           f"partitioner. Topic names carry ROASLOOP_TOPIC_PREFIX in front when one is set. "
                           f"Partitioner: {PARTITIONER}",
        },
        "defaultContentType": "application/json",
        "servers": {"kafka": {"host": "localhost:9092", "protocol": "kafka",
                              "description": "KAFKA_BOOTSTRAP_SERVERS of the deployment"}},
        "channels": dict(sorted(channels.items())),
        "operations": dict(sorted(operations.items())),
        "components": {
            "messages": {
                **{t.model.__name__: _message(t) for t in CATALOG},
                "DeadLetter": {"name": "DeadLetter", "title": "DeadLetter", "contentType": "application/octet-stream",
                               "payload": {"description": "The original record's bytes, as they arrived"}},
            },
            "schemas": {t.model.__name__: message_payload(t.model) for t in CATALOG},
        },
    }
