"""The shipped AsyncAPI document is what the stages generate, and it agrees with the catalog."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from schemas.export import export_json_schemas
from schemas.topics import CATALOG
from streams.core.asyncapi import asyncapi_document, inline_refs
from streams.core.settings import Settings, load_settings
from streams.core.stage import StageRunner
from streams.stages import all_stages

SHIPPED = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.json"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return asyncapi_document(all_stages())


def test_the_shipped_document_is_what_the_stages_generate_now(document: dict[str, Any]) -> None:
    shipped = json.loads(SHIPPED.read_text())
    assert shipped == document, "docs/asyncapi.json is stale: run `roasloop schemas asyncapi`"


def test_every_catalog_topic_is_a_channel_with_its_event_key_and_partition_count(document: dict[str, Any]) -> None:
    channels = document["channels"]
    assert {t.name for t in CATALOG} | {t.dlq for t in CATALOG} == set(channels)
    for topic in CATALOG:
        channel = channels[topic.name]
        assert channel["address"] == topic.name
        assert list(channel["messages"]) == [topic.model.__name__]
        assert channel["bindings"]["kafka"]["partitions"] == topic.partitions
        assert "murmur2" in channel["description"]


def test_every_message_payload_is_the_exported_json_schema(document: dict[str, Any], tmp_path: Path) -> None:
    for path in export_json_schemas(tmp_path):
        exported = inline_refs(json.loads(path.read_text()))
        name = path.name.removesuffix(".schema.json")
        message = document["components"]["messages"][name]
        assert message["payload"] == {"$ref": f"#/components/schemas/{name}"}
        payload = document["components"]["schemas"][name]
        assert payload == {k: v for k, v in exported.items() if k not in ("$id", "$schema")}
        assert "event_type" in payload["required"] and "$ref" not in json.dumps(payload)


def test_every_subscription_of_every_stage_is_a_receive_operation_with_its_group(
        document: dict[str, Any]) -> None:
    operations = document["operations"]
    expected = set()
    for stage in all_stages():
        broker = StageRunner([stage], _unprefixed()).resources.broker
        for sub in broker.subscribers:
            for topic in sub.specification.topics:
                expected.add((stage.name, topic, sub.group_id))
    found = {(op["x-stage"], op["channel"]["$ref"].removeprefix("#/channels/"),
              op["bindings"]["kafka"]["groupId"]["enum"][0]) for op in operations.values()}
    assert found == expected
    assert ("sampler", "spend.v1", "sampler") in found and ("sampler", "revenue.v1", "sampler") in found


def _unprefixed() -> Settings:
    return load_settings(kafka_bootstrap_servers="localhost:9092", topic_prefix="")
