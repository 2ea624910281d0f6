"""The attribution stage: ``clicks.v1`` + ``crm.deal-stage.v1`` (+ ``spend.v1``) -> ``conversions.attributed.v1``.

Subscribers - the deal-stage one in consumer group ``attribution``; clicks and spend in groups of
their own (``attribution.clicks``, ``attribution.spend``), so a rebalance of one topic's consumers
never pauses another's, and each joins without waiting for the others:

- clicks, as batches: each record is decoded on its own, a bad one is dead-lettered alone, and the
  good ones are indexed in one transaction that also re-checks waiting deals;
- deal-stage changes, one at a time (keyed by deal, so a deal's stages stay in order);
- spend reports, only to learn which allocation group an ad set or campaign belongs to.

``faststream run streams.attribution.app:app`` and ``roasloop run attribution`` run it.
"""

from __future__ import annotations

from typing import Any

import structlog
from faststream.kafka.annotations import KafkaMessage

from schemas.codec import InvalidEvent, decode_as
from schemas.events import AdClicked, DealStageChanged, SpendReported
from schemas.topics import CLICKS, DEAL_STAGES, SPEND
from streams.attribution import click_index, sweeper
from streams.attribution.resolver import CONSUMER, Context, on_stage_event, recheck
from streams.attribution.settings import AttributionSettings, load_attribution_settings
from streams.core.dlq import dead_letters_of
from streams.core.stage import Resources, Stage

GROUP = "attribution"
log = structlog.get_logger("roasloop.attribution")


def build_stage(config: AttributionSettings | None = None) -> Stage:
    """The stage, with its settings from the environment unless given (tests pass their own)."""
    chosen: dict[str, AttributionSettings] = {}

    def settings() -> AttributionSettings:
        if "cfg" not in chosen:
            chosen["cfg"] = config or load_attribution_settings()
        return chosen["cfg"]

    def register(res: Resources) -> None:
        cfg = settings()

        async def index(_: Any, msg: KafkaMessage) -> None:
            records: tuple[Any, ...] = msg.raw_message
            clicks: list[AdClicked] = []
            for record in records:
                try:
                    clicks.append(decode_as(record.value or b"", AdClicked))
                except InvalidEvent as exc:
                    await dead_letters_of(res.broker).dead_letter(record, exc, 1)
            if not clicks:
                return
            async with res.pool.acquire() as conn, conn.transaction():
                now = res.clock.now()
                new_clicks, new_ads = await click_index.index_clicks(conn, clicks, now)
                await recheck(Context(conn, res.publisher, cfg, now), new_clicks, new_ads)

        async def attribute(event: DealStageChanged) -> None:
            with structlog.contextvars.bound_contextvars(
                tenant_id=event.tenant_id, deal_id=event.deal_id, event_id=event.event_id
            ):
                async with res.pool.acquire() as conn, conn.transaction():
                    await on_stage_event(Context(conn, res.publisher, cfg, res.clock.now()), event)

        async def learn(event: SpendReported) -> None:
            async with res.pool.acquire() as conn:
                await click_index.learn_group(conn, event.tenant_id, event.entity_id, event.group_id,
                                              event.campaign_id)

        res.subscriber(CLICKS, GROUP + ".clicks", batch=True, max_records=cfg.click_batch_max,
                       batch_timeout_ms=cfg.click_batch_timeout_ms, decoder=lambda msg: msg.body)(index)
        res.subscriber(DEAL_STAGES, GROUP)(attribute)
        res.subscriber(SPEND, GROUP + ".spend")(learn)

    async def on_start(res: Resources) -> None:
        res.spawn(sweeper.run(res.pool, res.publisher, settings(), res.clock), name="attribution-sweeper")

    return Stage(name=CONSUMER, register=register, on_start=on_start)


stage = build_stage()


def __getattr__(name: str) -> object:
    if name == "app":
        from streams.core.faststream_app import faststream_app

        return faststream_app(stage)
    raise AttributeError(name)
