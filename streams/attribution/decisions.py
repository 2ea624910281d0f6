"""A deal's attribution, decided once, and the events that carry it downstream.

Every stage of one deal must credit the same ad, or a deal would be split between ads as its
stages arrive. So the first decision - a match, or ``none`` after the deal waited its bound -
is stored in ``deal_attributions`` and every later stage event reuses it.

A deal emitted as unattributed stays unattributed when a matching click turns up later: revenue
has already seen its stages as uncredited, and re-attributing would mean retracting and
re-crediting history. The pending bound (``ROASLOOP_ATTRIBUTION_PENDING_SECONDS``) is the
deliberate trade between that finality and waiting for late clicks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from schemas.events import AttributionMethod, ConversionAttributed, DealStageChanged, MatchedOn
from streams.attribution.matching import Match
from streams.core.db import Conn


@dataclass(frozen=True)
class Decision:
    method: AttributionMethod
    matched_on: MatchedOn
    confidence: float
    click_id: str | None = None
    ad_id: str | None = None
    adset_id: str | None = None
    campaign_id: str | None = None
    group_id: str | None = None
    click_occurred_at: datetime | None = None

    @classmethod
    def from_match(cls, match: Match) -> Decision:
        return cls(
            method=match.method, matched_on=match.matched_on, confidence=match.confidence,
            click_id=match.click_id, ad_id=match.ad_id, adset_id=match.adset_id,
            campaign_id=match.campaign_id, group_id=match.group_id or match.campaign_id,
            click_occurred_at=match.click_occurred_at,
        )

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> Decision:
        return cls(
            method=row["method"], matched_on=row["matched_on"], confidence=row["confidence"],
            click_id=row["click_id"], ad_id=row["ad_id"], adset_id=row["adset_id"],
            campaign_id=row["campaign_id"], group_id=row["group_id"],
            click_occurred_at=row["click_occurred_at"],
        )


UNATTRIBUTED = Decision(method="none", matched_on="none", confidence=0.0)


async def load_many(conn: Conn, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Decision]:
    """The stored decisions of the ``(tenant_id, deal_id)`` keys that have one."""
    rows = await conn.fetch(
        "SELECT * FROM deal_attributions WHERE (tenant_id, deal_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))",
        [t for t, _ in keys], [d for _, d in keys],
    )
    return {(r["tenant_id"], r["deal_id"]): Decision.from_row(r) for r in rows}


STORE_SQL = """
INSERT INTO deal_attributions (tenant_id, deal_id, method, matched_on, confidence, click_id, ad_id, adset_id,
                               campaign_id, group_id, click_occurred_at, conversion_at, decided_at)
SELECT *, $13::timestamptz FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::float8[], $6::text[],
                                       $7::text[], $8::text[], $9::text[], $10::text[], $11::timestamptz[],
                                       $12::timestamptz[])
"""


async def store_many(conn: Conn, decided: Sequence[tuple[str, str, Decision, datetime]], now: datetime) -> None:
    """Record ``(tenant_id, deal_id, decision, conversion_at)`` rows; the primary key refuses a second one per deal."""
    if not decided:
        return
    rows = [(t, d, dec.method, dec.matched_on, dec.confidence, dec.click_id, dec.ad_id, dec.adset_id, dec.campaign_id,
             dec.group_id, dec.click_occurred_at, at) for t, d, dec, at in decided]
    await conn.execute(STORE_SQL, *[list(column) for column in zip(*rows, strict=True)], now)


def conversion_event_id(stage_event_id: str) -> str:
    """Deterministic, so a republished conversion is caught by downstream inboxes."""
    candidate = f"ca:{stage_event_id}"
    if len(candidate) <= 200:
        return candidate
    return "ca:" + hashlib.sha256(stage_event_id.encode()).hexdigest()


def conversion(event: DealStageChanged, decision: Decision, now: datetime) -> ConversionAttributed:
    latency = None
    if decision.click_occurred_at is not None:
        latency = max(0.0, (event.occurred_at - decision.click_occurred_at).total_seconds())
    return ConversionAttributed(
        event_id=conversion_event_id(event.event_id),
        tenant_id=event.tenant_id,
        occurred_at=event.occurred_at,
        produced_at=now,
        deal_id=event.deal_id,
        stage_event_id=event.event_id,
        stage_id=event.stage_id,
        pipeline_id=event.pipeline_id,
        amount=event.amount,
        method=decision.method,
        matched_on=decision.matched_on,
        confidence=decision.confidence,
        click_id=decision.click_id,
        ad_id=decision.ad_id,
        adset_id=decision.adset_id,
        campaign_id=decision.campaign_id,
        group_id=decision.group_id,
        click_occurred_at=decision.click_occurred_at,
        latency_seconds=latency,
    )
