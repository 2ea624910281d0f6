"""Creative features on the wire: describe an ad set once, record it, publish ``CreativeDescribed``.

Whoever learns what an ad set looks like (the insights poller discovering it, roasloop creating
it, the dev market launching it) calls :func:`describe` and then :func:`record` inside the
transaction that publishes the event (``res.effects()``): the row in ``creative_features`` and
the event on ``creatives.v1`` say the same thing, and a re-description with the same content
changes nothing and publishes nothing. The live prior source and the rebuild job read the rows
(:func:`load_features`), so priors can be computed for live entities without replaying a topic.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime

from schemas.creatives import CreativeFeatures
from schemas.events import CreativeDescribed
from streams.core.db import Conn
from streams.priors.embedder import Embedder, HashedNgramEmbedder
from streams.priors.features import EntityFeatures

DEFAULT_EMBEDDER = HashedNgramEmbedder()


def _digest(features: CreativeFeatures, embedder: str, embedding: Sequence[float]) -> str:
    body = json.dumps([features.model_dump(mode="json"), embedder, [round(x, 6) for x in embedding]],
                      sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()[:24]


def describe(*, tenant_id: str, group_id: str, campaign_id: str, entity_id: str, features: CreativeFeatures,
             now: datetime, text: str | None = None, ad_id: str | None = None,
             embedder: Embedder | None = None, embedding: Sequence[float] | None = None) -> CreativeDescribed:
    """The event for one ad set: its features and an embedding of them (and of its copy, ``text``,
    which is embedded but not carried; or ``embedding``, the creative's own vector from ``embedder``'s
    model). The event id is the content's digest, so a repeated description is recognisably the same one."""
    emb = embedder or DEFAULT_EMBEDDER
    entity = EntityFeatures(entity_id=entity_id, **features.model_dump())
    if embedding is None:
        embedding = emb.embed([entity], [text])[0] if isinstance(emb, HashedNgramEmbedder) else emb.embed([entity])[0]
    vector = [float(x) for x in embedding]
    digest = _digest(features, emb.name, vector)
    return CreativeDescribed(
        event_id=f"creative-{entity_id}-{digest}", tenant_id=tenant_id, occurred_at=now, group_id=group_id,
        campaign_id=campaign_id, entity_id=entity_id, ad_id=ad_id, features=features, embedder=emb.name,
        embedding=vector)


async def record(conn: Conn, event: CreativeDescribed) -> bool:
    """Upsert the ad set's row; False (publish nothing) when it already says exactly this."""
    digest = _digest(event.features, event.embedder, event.embedding)
    changed = await conn.fetchval(
        """INSERT INTO creative_features (tenant_id, entity_id, group_id, campaign_id, ad_id, features,
                                          embedder, embedding, digest, described_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (tenant_id, entity_id) DO UPDATE SET
               group_id = excluded.group_id, campaign_id = excluded.campaign_id, ad_id = excluded.ad_id,
               features = excluded.features, embedder = excluded.embedder, embedding = excluded.embedding,
               digest = excluded.digest, described_at = excluded.described_at
           WHERE creative_features.digest <> excluded.digest
           RETURNING true""",
        event.tenant_id, event.entity_id, event.group_id, event.campaign_id, event.ad_id,
        event.features.model_dump(mode="json", exclude_none=True), event.embedder, event.embedding, digest,
        event.occurred_at)
    return bool(changed)


async def load_features(conn: Conn, tenant_id: str, embedder: str | None = None) -> dict[str, EntityFeatures]:
    """Every described ad set of the tenant; the embedding only where ``embedder`` made it (or any,
    when None), so the winner index never compares vectors of different embedders."""
    rows = await conn.fetch(
        "SELECT entity_id, features, embedder, embedding FROM creative_features WHERE tenant_id = $1", tenant_id)
    out: dict[str, EntityFeatures] = {}
    for row in rows:
        same = embedder is None or row["embedder"] == embedder
        out[row["entity_id"]] = EntityFeatures(
            entity_id=row["entity_id"], **dict(row["features"]),
            embedding=tuple(float(x) for x in row["embedding"]) if same else None)
    return out


async def described_entities(conn: Conn, tenant_id: str) -> set[str]:
    rows = await conn.fetch("SELECT entity_id FROM creative_features WHERE tenant_id = $1", tenant_id)
    return {r["entity_id"] for r in rows}


async def undescribed(conn: Conn, tenant_id: str, entity_ids: Sequence[str]) -> list[str]:
    """Those of ``entity_ids`` that have no description yet, in the order given (a producer's
    "have I described this one?" across polls and restarts)."""
    known = {r["entity_id"] for r in await conn.fetch(
        "SELECT entity_id FROM creative_features WHERE tenant_id = $1 AND entity_id = ANY($2)", tenant_id,
        list(entity_ids))}
    return [e for e in dict.fromkeys(entity_ids) if e not in known]
