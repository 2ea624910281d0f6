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


async def load(conn: Conn, tenant_id: str, deal_id: str) -> Decision | None:
    row = await conn.fetchrow(
        "SELECT * FROM deal_attributions WHERE tenant_id = $1 AND deal_id = $2", tenant_id, deal_id
    )
    return Decision.from_row(row) if row else None


async def store(conn: Conn, tenant_id: str, deal_id: str, decision: Decision,
                conversion_at: datetime, now: datetime) -> None:
    """Record the decision; the primary key refuses a second one for the same deal."""
    await conn.execute(
        "INSERT INTO deal_attributions (tenant_id, deal_id, method, matched_on, confidence, click_id, ad_id,"
        " adset_id, campaign_id, group_id, click_occurred_at, conversion_at, decided_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        tenant_id, deal_id, decision.method, decision.matched_on, decision.confidence, decision.click_id,
        decision.ad_id, decision.adset_id, decision.campaign_id, decision.group_id,
        decision.click_occurred_at, conversion_at, now,
    )


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
