"""Creative features on the wire: the embedder is local, the row and the event agree, repeats are no-ops."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from typing import Any

import asyncpg
import numpy as np
import pytest

from schemas import decode_as, encode
from schemas.creatives import CreativeFeatures
from schemas.events import CreativeDescribed
from schemas.topics import CREATIVES
from streams.priors.creatives import describe, load_features, record
from streams.priors.embedder import HashedNgramEmbedder
from streams.priors.features import EntityFeatures

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
VIDEO = CreativeFeatures(creative_type="video", call_to_action="book_demo", placement="reels",
                         audience="lookalike", video_duration_s=15, headline_length=42)


def test_embedder_needs_no_network_and_says_what_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the embedder opened a socket")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    embedder = HashedNgramEmbedder(dim=32)
    a, b, c = embedder.embed([EntityFeatures(entity_id=x, **VIDEO.model_dump()) for x in "abc"],
                             ["Book a demo of the CRM today", "Book a demo of our CRM today", "Cheap shoes sale"])
    assert embedder.name == "hashed-ngram/v1:32"
    assert np.isclose(np.linalg.norm(a), 1.0)
    assert float(a @ b) > float(a @ c)  # similar copy, similar vector


def test_description_is_deterministic_and_carries_no_copy() -> None:
    one = describe(tenant_id="t1", group_id="c1", campaign_id="c1", entity_id="as1", features=VIDEO, now=NOW,
                   text="Book a demo")
    two = describe(tenant_id="t1", group_id="c1", campaign_id="c1", entity_id="as1", features=VIDEO, now=NOW,
                   text="Book a demo")
    assert one.event_id == two.event_id and one.embedding == two.embedding
    assert "Book a demo" not in encode(one).decode()
    assert decode_as(encode(one), CreativeDescribed) == one
    assert CREATIVES.key(one) == b"t1:c1"


async def test_recording_the_same_description_twice_changes_nothing(db_pool: asyncpg.Pool[Any]) -> None:
    event = describe(tenant_id="t1", group_id="c1", campaign_id="c1", entity_id="as1", features=VIDEO, now=NOW)
    async with db_pool.acquire() as conn:
        assert await record(conn, event) is True
        assert await record(conn, event) is False
        changed = describe(tenant_id="t1", group_id="c1", campaign_id="c1", entity_id="as1", now=NOW,
                           features=VIDEO.model_copy(update={"placement": "feed"}))
        assert await record(conn, changed) is True
        loaded = await load_features(conn, "t1", embedder=event.embedder)
        other = await load_features(conn, "t1", embedder="some-other-model")
        assert await load_features(conn, "t2") == {}
    assert loaded["as1"].placement == "feed" and loaded["as1"].embedding is not None
    assert np.allclose(loaded["as1"].embedding, changed.embedding, atol=1e-6)
    assert other["as1"].embedding is None and other["as1"].creative_type == "video"
