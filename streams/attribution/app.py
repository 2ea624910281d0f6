"""The attribution stage: ``clicks.v1`` + ``crm.deal-stage.v1`` (+ ``spend.v1``) -> ``conversions.attributed.v1``.

Subscriptions - the deal-stage one in consumer group ``attribution``; clicks and spend in groups of
their own (``attribution.clicks``, ``attribution.spend``), so a rebalance of one topic's consumers
never pauses another's, and each joins without waiting for the others:

- clicks, in batches: a bad record is dead-lettered alone, the good ones are indexed in one
  transaction that also re-checks waiting deals (no inbox: a click is indexed once by its id);
- deal-stage changes (keyed by deal, so a deal's stages stay in order), claimed in the inbox and
  decided a batch at a time (:mod:`.stage_batch`);
- spend reports, only to learn which allocation group an ad set or campaign belongs to.

A background sweeper decides deals whose wait for a late click is over (:mod:`.sweeper`).
``faststream run streams.attribution.app:app`` and ``roasloop run attribution`` run it.
"""

from __future__ import annotations

from collections.abc import Sequence

from schemas.events import AdClicked, DealStageChanged, SpendReported
from schemas.topics import CLICKS, DEAL_STAGES, SPEND
from streams.attribution import click_index, sweeper
from streams.attribution.context import Context, lock_tenants
from streams.attribution.resolver import CONSUMER, recheck
from streams.attribution.settings import AttributionSettings, load_attribution_settings
from streams.attribution.stage_batch import attribute_batch
from streams.core.faststream_app import lazy_app
from streams.core.process import Consumed, Effects, Processor
from streams.core.stage import Batching, Resources, Stage

GROUP = "attribution"


class AttributionStage(Stage):
    name = "attribution"

    def __init__(self, config: AttributionSettings | None = None) -> None:
        self._config = config
        """Tests pass their own; otherwise read from the environment when the stage subscribes."""

    @property
    def config(self) -> AttributionSettings:
        if self._config is None:
            self._config = load_attribution_settings()
        return self._config

    def subscribe(self, res: Resources) -> None:
        cfg = self.config
        res.consume(CLICKS, group=GROUP + ".clicks", processor=Processor(None, self.index),
                    batching=Batching(cfg.click_batch_max, cfg.click_batch_timeout_ms))
        res.consume(DEAL_STAGES, group=GROUP, processor=Processor(CONSUMER, self.attribute),
                    batching=Batching(cfg.deal_batch_max, cfg.deal_batch_timeout_ms))
        res.consume(SPEND, group=GROUP + ".spend", processor=Processor(None, self.learn))

    async def start(self, res: Resources) -> None:
        res.spawn(sweeper.run(res, self.config), name="attribution-sweeper")

    async def index(self, fx: Effects, batch: Sequence[Consumed[AdClicked]]) -> None:
        new_clicks, new_ads = await click_index.index_clicks(fx.conn, [c.event for c in batch], fx.now)
        await recheck(Context(fx, self.config), new_clicks, new_ads)

    async def attribute(self, fx: Effects, batch: Sequence[Consumed[DealStageChanged]]) -> None:
        # The batch's tenants are locked up front in one order, as the click batches lock theirs:
        # two batches then never wait on each other in a cycle.
        await lock_tenants(fx.conn, [r.event.tenant_id for r in batch])
        await attribute_batch(Context(fx, self.config), [r.event for r in batch])

    async def learn(self, fx: Effects, batch: Sequence[Consumed[SpendReported]]) -> None:
        for record in batch:
            e = record.event
            await click_index.learn_group(fx.conn, e.tenant_id, e.entity_id, e.group_id, e.campaign_id)


stage = AttributionStage()
__getattr__ = lazy_app(stage)
