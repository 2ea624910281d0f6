"""The revenue stage: ``conversions.attributed.v1`` -> ``revenue.v1``, plus ``spend.v1`` for ROAS.

Subscribers: conversions in consumer group ``revenue`` (keyed by deal, so a deal's stage changes
arrive in order), spend in ``revenue.spend`` (its own group: neither waits on the other's
rebalances). Each conversion is claimed in the inbox, valued (:mod:`streams.revenue.valuation`)
and recorded in one transaction; the ``RevenueRecognized`` is published before that transaction
commits, so a failed publish rolls everything back and the redelivery does it again, and a
republish after a failed commit carries the same ``event_id``, which consumers deduplicate.

``faststream run streams.revenue.app:app`` and ``roasloop run revenue`` run it.
"""

from __future__ import annotations

import structlog

from schemas.events import ConversionAttributed, SpendReported
from schemas.topics import CONVERSIONS, SPEND
from streams.core import inbox
from streams.core.stage import Resources, Stage
from streams.revenue.ledger import apply_conversion
from streams.revenue.spend import record_spend

GROUP = "revenue"
CONSUMER = "revenue"


def build_stage() -> Stage:
    def register(res: Resources) -> None:
        async def credit(event: ConversionAttributed) -> None:
            with structlog.contextvars.bound_contextvars(
                tenant_id=event.tenant_id, deal_id=event.deal_id, event_id=event.event_id
            ):
                async with res.pool.acquire() as conn, conn.transaction():
                    if not await inbox.claim(conn, CONSUMER, event.event_id):
                        return
                    revenue = await apply_conversion(conn, event, res.clock.now(), res.settings.default_currency)
                    if revenue is not None:
                        await res.publisher.publish(revenue)

        async def spend(event: SpendReported) -> None:
            async with res.pool.acquire() as conn:
                await record_spend(conn, event)

        res.subscriber(CONVERSIONS, GROUP)(credit)
        res.subscriber(SPEND, GROUP + ".spend")(spend)

    return Stage(name="revenue", register=register)


stage = build_stage()


def __getattr__(name: str) -> object:
    if name == "app":
        from streams.core.faststream_app import faststream_app

        return faststream_app(stage)
    raise AttributeError(name)
