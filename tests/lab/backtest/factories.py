"""Small builders of the three replayed event types, and a publisher that sets record timestamps."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaProducer

from schemas.codec import encode
from schemas.envelope import Envelope
from schemas.events import AllocationDecided, EntityAllocation, RevenueRecognized, SpendReported
from schemas.money import Money, SignedMoney
from schemas.topics import topic_for
from streams.core.naming import topic_name
from streams.core.settings import Settings
from streams.lab.backtest.records import to_ms

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def spend(entity: str, when: datetime, minor: int, *, group: str = "g1", tenant: str = "acme") -> SpendReported:
    return SpendReported(
        event_id=f"sp-{tenant}-{group}-{entity}-{when:%Y%m%d%H%M%S}-{minor}", tenant_id=tenant, occurred_at=when,
        group_id=group, campaign_id=group, entity_id=entity, day=when.date(),
        spend=Money(amount_minor=minor, currency="USD"), impressions=0, clicks=0,
    )


def revenue(entity: str, when: datetime, minor: int, *, group: str = "g1", tenant: str = "acme",
            deal: str = "d") -> RevenueRecognized:
    return RevenueRecognized(
        event_id=f"rv-{tenant}-{group}-{entity}-{deal}-{when:%Y%m%d%H%M%S}", tenant_id=tenant, occurred_at=when,
        deal_id=deal, group_id=group, campaign_id=group, adset_id=entity, ad_id=f"{entity}-ad", kind="synthetic",
        amount=SignedMoney(amount_minor=minor, currency="USD"), credited_total_minor=minor, stage_id="lead",
        confidence=1.0, conversion_event_id=f"cv-{deal}",
    )


def decision(when: datetime, shares: dict[str, float], budgets: dict[str, int], *, group: str = "g1",
             tenant: str = "acme", policy: str = "thompson", seed: int | None = 7,
             decision_id: str | None = None) -> AllocationDecided:
    return AllocationDecided(
        event_id=f"dc-{tenant}-{group}-{when:%Y%m%d%H%M%S}", tenant_id=tenant, occurred_at=when,
        decision_id=decision_id or f"{group}-{when:%Y%m%d%H%M%S}", group_id=group, campaign_id=group,
        policy=policy, seed=seed, total_budget=Money(amount_minor=sum(budgets.values()), currency="USD"),
        allocations=[EntityAllocation(entity_id=e, share=s, budget_minor=budgets[e]) for e, s in shares.items()],
    )


async def publish(producer: AIOKafkaProducer, settings: Settings, events: Iterable[Envelope],
                  record_time: datetime | None = None) -> None:
    """Publish with the record timestamp = ``record_time`` or the event's ``occurred_at``."""
    for event in events:
        topic = topic_for(event)
        stamp = to_ms(record_time or event.occurred_at)
        await producer.send(topic_name(settings, topic), encode(event), key=topic.key(event), timestamp_ms=stamp)
    await producer.flush()
