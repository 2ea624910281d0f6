"""Builders for clicks and deal-stage events, so each test states only what it is about."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas import AdClicked, ContactSignals, ConversionAttributed, DealStageChanged
from schemas.topics import CONVERSIONS
from streams.attribution.settings import AttributionSettings
from streams.core.settings import Settings
from tests.helpers import read_events

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
_ids = itertools.count(1)

FAST = AttributionSettings(pending_seconds=600, sweep_interval_seconds=0.1, click_batch_timeout_ms=20)


def click(click_id: str, ad_id: str = "ad1", *, at: datetime = T0 - timedelta(hours=1), tenant: str = "acme",
          hierarchy: bool = True, **fields: Any) -> AdClicked:
    """A click; with ``hierarchy`` it carries ad set ``s-<ad>`` and campaign ``camp1``."""
    extra: dict[str, Any] = {"adset_id": f"s-{ad_id}", "campaign_id": "camp1"} if hierarchy else {}
    return AdClicked(event_id=f"click-{click_id}", tenant_id=tenant, occurred_at=at, click_id=click_id,
                     ad_id=ad_id, **extra, **fields)


def stage(deal_id: str, stage_id: str = "appointmentscheduled", *, at: datetime = T0, tenant: str = "acme",
          event_id: str | None = None, **contact: Any) -> DealStageChanged:
    return DealStageChanged(event_id=event_id or f"stage-{next(_ids)}", tenant_id=tenant, occurred_at=at,
                            deal_id=deal_id, stage_id=stage_id, contact=ContactSignals(**contact))


async def conversions(settings: Settings, count: int, timeout: float = 15.0) -> list[ConversionAttributed]:
    events = await read_events(settings, CONVERSIONS, min_count=count, timeout=timeout)
    return [e for e in events if isinstance(e, ConversionAttributed)]


def by_deal(events: list[ConversionAttributed]) -> dict[str, ConversionAttributed]:
    return {e.deal_id: e for e in events}
