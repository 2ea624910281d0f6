"""A batch of deal-stage events is decided as its events would be one at a time, in order."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg

from schemas import ConversionAttributed, DealStageChanged
from streams.attribution import click_index
from streams.attribution.context import Context
from streams.attribution.stage_batch import attribute_batch
from streams.core.process import Effects
from tests.attribution.factories import FAST, T0, click, stage


class Rollback(Exception):
    """Leaves the database as it was, so the next way of running the same events starts alike."""


async def run(pool: asyncpg.Pool[Any], batches: list[list[DealStageChanged]], *, keep: bool = False
              ) -> tuple[list[ConversionAttributed], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Apply ``batches`` (one transaction each); return what was emitted and the resulting rows."""
    emitted: list[ConversionAttributed] = []
    async with pool.acquire() as conn:
        try:
            async with conn.transaction():
                for batch in batches:
                    async with conn.transaction():
                        fx = Effects(conn, T0)
                        await attribute_batch(Context(fx, FAST), batch)
                        emitted += [e for e in fx.emitted if isinstance(e, ConversionAttributed)]
                decided = [tuple(r) for r in await conn.fetch(
                    "SELECT deal_id, method, matched_on, click_id, ad_id, conversion_at FROM deal_attributions"
                    " ORDER BY deal_id")]
                pending = [tuple(r) for r in await conn.fetch(
                    "SELECT deal_id, stage_event_id, waiting_ad_id, deadline, click_id FROM pending_stage_events"
                    " ORDER BY deal_id, stage_event_id")]
                if not keep:
                    raise Rollback
        except Rollback:
            pass
    return emitted, decided, pending


async def test_a_batch_decides_and_parks_exactly_as_its_events_one_at_a_time(db_pool: asyncpg.Pool[Any]) -> None:
    async with db_pool.acquire() as conn, conn.transaction():
        await click_index.index_clicks(conn, [
            click("c-known", "ad-known"),
            click("c-later", "ad-later", at=T0 - timedelta(minutes=10)),
            click("c-new", "ad-new", hierarchy=False),  # the catalog does not know ad-new yet
        ], T0)
    # before the batch: one deal already decided, one already waiting
    await run(db_pool, [[stage("d-decided", click_id="c-known"), stage("d-parked", fbclid="fb-none")]], keep=True)
    batch = [
        stage("d-two", click_id="c-known", event_id="two-1"),
        stage("d-waits", email_hash="nobody", event_id="waits-1"),
        stage("d-parked", "contractsent", at=T0 + timedelta(minutes=1), click_id="c-later", event_id="parked-2"),
        stage("d-two", "contractsent", at=T0 + timedelta(minutes=1), device_id="dev-x", event_id="two-2"),
        stage("d-uncat", click_id="c-new", event_id="uncat-1"),
        stage("d-waits", "contractsent", at=T0 + timedelta(minutes=1), device_id="dev-y", event_id="waits-2"),
        stage("d-decided", "closedwon", at=T0 + timedelta(minutes=2), event_id="decided-2"),
        stage("d-uncat", "contractsent", at=T0 + timedelta(minutes=1), event_id="uncat-2"),
    ]

    together = await run(db_pool, [batch])
    one_by_one = await run(db_pool, [[event] for event in batch])

    assert together == one_by_one
    emitted, decided, pending = together
    assert [(c.stage_event_id, c.method, c.click_id) for c in emitted] == [
        ("two-1", "url", "c-known"),
        # the parked deal's earlier stage is emitted with the event that decided it, before it
        (next(c.stage_event_id for c in emitted if c.deal_id == "d-parked"), "url", "c-later"),
        ("parked-2", "url", "c-later"),
        ("two-2", "url", "c-known"),  # the deal's second event reuses the first one's decision
        ("decided-2", "url", "c-known"),
    ]
    assert {d[0]: d[3] for d in decided} == {"d-decided": "c-known", "d-parked": "c-later", "d-two": "c-known"}
    assert [(p[0], p[1], p[2]) for p in pending] == [
        ("d-uncat", "uncat-1", "ad-new"),  # waits for the catalog to learn its click's ad
        ("d-uncat", "uncat-2", "ad-new"),  # and its later stage waits with it
        ("d-waits", "waits-1", None),
        ("d-waits", "waits-2", None),
    ]
    assert all(p[3] == T0 + timedelta(seconds=FAST.pending_seconds) for p in pending)
