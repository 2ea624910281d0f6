"""The revenue stage: ``conversions.attributed.v1`` -> ``revenue.v1``, plus ``spend.v1`` for ROAS.

Subscriptions: conversions in consumer group ``revenue`` (keyed by deal, so a deal's stage changes
arrive in order), spend in ``revenue.spend`` (its own group: neither waits on the other's
rebalances). Each batch of conversions is claimed in the inbox, valued (:mod:`streams.revenue.valuation`),
recorded, and its ``RevenueRecognized`` events published before the transaction commits
(:mod:`streams.core.process`). Spend needs no inbox: a day's snapshot replaces the previous one.

``faststream run streams.revenue.app:app`` and ``roasloop run revenue`` run it.
"""

from __future__ import annotations

from collections.abc import Sequence

from schemas.events import ConversionAttributed, SpendReported
from schemas.topics import CONVERSIONS, SPEND
from streams.core.faststream_app import lazy_app
from streams.core.process import Consumed, Effects, Processor
from streams.core.stage import Resources, Stage
from streams.revenue.ledger import apply_conversions
from streams.revenue.spend import record_spends

GROUP = "revenue"
CONSUMER = "revenue"


class RevenueStage(Stage):
    name = "revenue"

    def __init__(self) -> None:
        self.default_currency = "USD"

    def subscribe(self, res: Resources) -> None:
        self.default_currency = res.settings.default_currency
        res.consume(CONVERSIONS, group=GROUP, processor=Processor(CONSUMER, self.credit))
        res.consume(SPEND, group=GROUP + ".spend", processor=Processor(None, self.record_spend))

    async def credit(self, fx: Effects, batch: Sequence[Consumed[ConversionAttributed]]) -> None:
        """The batch in one pass (:func:`apply_conversions`): a fixed number of round trips, not six per record."""
        revenues = await apply_conversions(fx.conn, [r.event for r in batch], fx.now, self.default_currency)
        for revenue in revenues:
            if revenue is not None:
                fx.emit(revenue)

    async def record_spend(self, fx: Effects, batch: Sequence[Consumed[SpendReported]]) -> None:
        await record_spends(fx.conn, [r.event for r in batch])


stage = RevenueStage()
__getattr__ = lazy_app(stage)
