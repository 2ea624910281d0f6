"""Builders for attributed conversions, so each revenue test states only its stage sequence."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from schemas import ConversionAttributed, Money

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
_ids = itertools.count(1)


def conversion(deal_id: str, stage_id: str, *, amount: int | None = None, confidence: float = 1.0,
               n: int | None = None, tenant: str = "acme", adset: str = "s1", currency: str = "USD",
               at: datetime | None = None, event_id: str | None = None) -> ConversionAttributed:
    """An attributed stage change of ``deal_id`` on ad ``ad1`` / ``adset`` / campaign ``camp1``."""
    n = next(_ids) if n is None else n
    return ConversionAttributed(
        event_id=event_id or f"ca:{deal_id}:{n}", tenant_id=tenant, occurred_at=at or T0 + timedelta(minutes=n),
        deal_id=deal_id, stage_event_id=f"s-{deal_id}-{n}", stage_id=stage_id,
        amount=Money(amount_minor=amount, currency=currency) if amount is not None else None,
        method="url" if confidence == 1.0 else "probabilistic", matched_on="click_id", confidence=confidence,
        click_id="c1", ad_id="ad1", adset_id=adset, campaign_id="camp1", group_id="camp1",
        click_occurred_at=T0 - timedelta(hours=1),
    )


def unattributed(deal_id: str, stage_id: str, n: int = 0) -> ConversionAttributed:
    return ConversionAttributed(
        event_id=f"ca:{deal_id}:{n}", tenant_id="acme", occurred_at=T0, deal_id=deal_id,
        stage_event_id=f"s-{deal_id}-{n}", stage_id=stage_id, method="none", confidence=0.0,
    )
