"""The sampler's in-memory groups: the same state PostgreSQL would rebuild, and never ahead of a commit."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
import numpy as np

from schemas.events import RevenueRecognized
from schemas.money import SignedMoney
from streams.core.clock import ManualClock
from streams.core.settings import Settings
from streams.sampler import store
from streams.sampler.app import SamplerStage
from streams.sampler.cache import GroupCache
from streams.sampler.settings import SamplerSettings
from streams.sampler.state import GroupState, retention_cutoff
from tests.helpers import running_stages, wait_until
from tests.sampler.test_app import NOW, revenue, spend

QUIET = SamplerSettings(significant_events=10_000, schedule_seconds=3600)


async def test_the_kept_state_gives_the_posterior_a_rebuild_from_postgres_gives(
        settings: Settings, db_pool: asyncpg.Pool[Any]) -> None:
    stage = SamplerStage(QUIET)
    async with running_stages(settings, [stage], clock=ManualClock(NOW)) as runner:
        publisher = runner.resources.publisher
        for round_ in range(3):  # several batches, each touching the group again
            await publisher.publish_many([spend(e, amount=10_000 + 7 * round_, n=round_) for e in "abc"])
            await publisher.publish_many([revenue(e, 12_345 * (i + 1) - round_, 10 * round_ + i)
                                          for i, e in enumerate("abcc")])
            await wait_until(lambda r=round_: db_pool.fetchval(  # type: ignore[misc]
                "SELECT count(*) = $1 FROM inbox WHERE consumer = 'sampler'", 7 * (r + 1)))
        kept = stage.cache.groups[("acme", "g1")]
        model = QUIET.model()
        async with db_pool.acquire() as conn:
            rebuilt = await store.load_group(conn, "acme", "g1", model, retention_cutoff(NOW, model))
    assert stage.cache.loads == 1  # read once, then kept
    ids = rebuilt.active_entities(NOW.date(), model.entity_ttl_days)
    assert kept.active_entities(NOW.date(), model.entity_ttl_days) == ids == ["a", "b", "c"]
    ours, theirs = kept.posterior(ids, NOW, model), rebuilt.posterior(ids, NOW, model)
    for name in ("rate_shape", "rate_rate", "value_shape", "value_rate"):
        assert np.array_equal(getattr(ours, name), getattr(theirs, name)), name  # bit for bit
    assert np.array_equal(kept.delays.lag_value, rebuilt.delays.lag_value)


def test_a_batch_that_did_not_commit_leaves_its_groups_to_be_read_again() -> None:
    cache = GroupCache()
    cache.groups[("acme", "g1")] = GroupState("acme", "g1")
    cache.groups[("acme", "g2")] = GroupState("acme", "g2")
    cache.begin([("acme", "g1")])  # this batch rolls back: its after-commit hook never runs
    cache.begin([("acme", "g2")])
    assert set(cache.groups) == {("acme", "g2")}
    cache.committed()
    cache.begin([("acme", "g2")])
    assert set(cache.groups) == {("acme", "g2")}


async def test_deals_open_and_resolved_are_rebuilt_from_postgres_as_they_were_kept(
        settings: Settings, db_pool: asyncpg.Pool[Any]) -> None:
    """Each deal's record (open at which stage since when, resolved when) survives a rebuild, so a
    decision made after a rebalance or in a replay values the deals in flight the same way."""
    def credit(entity: str, deal: str, n: int, days: float, kind: str, stage: str, amount: int,
               total: int) -> RevenueRecognized:
        click = NOW - timedelta(days=30)
        return revenue(entity, 1, n).model_copy(update={
            "deal_id": deal, "kind": kind, "stage_id": stage, "occurred_at": click + timedelta(days=days),
            "amount": SignedMoney(amount_minor=amount, currency="USD"), "credited_total_minor": total,
            "click_occurred_at": click})

    stage = SamplerStage(QUIET)
    async with running_stages(settings, [stage], clock=ManualClock(NOW)) as runner:
        publisher = runner.resources.publisher
        await publisher.publish_many([spend(e) for e in "ab"])
        await publisher.publish_many([
            credit("a", "won", 1, 0.1, "synthetic", "appointmentscheduled", 50_000, 50_000),
            credit("a", "won", 2, 4.0, "synthetic", "presentationscheduled", 100_000, 150_000),
            credit("a", "won", 3, 20.0, "actual", "closedwon", 5_850_000, 6_000_000),
            credit("b", "lost", 4, 0.1, "synthetic", "appointmentscheduled", 50_000, 50_000),
            credit("b", "lost", 5, 2.0, "reversal", "closedlost", -50_000, 0),
            credit("a", "open", 6, 0.2, "synthetic", "appointmentscheduled", 50_000, 50_000),
            credit("a", "open", 7, 5.0, "synthetic", "presentationscheduled", 100_000, 150_000),
        ])
        await wait_until(lambda: db_pool.fetchval(
            "SELECT count(*) = 9 FROM inbox WHERE consumer = 'sampler'"))
        kept = stage.cache.groups[("acme", "g1")]
        model = QUIET.model()
        async with db_pool.acquire() as conn:
            rebuilt = await store.load_group(conn, "acme", "g1", model, retention_cutoff(NOW, model))
    assert kept.deals == rebuilt.deals
    assert rebuilt.deals["won"].resolved_at is not None and rebuilt.deals["won"].appointment_at is not None
    assert rebuilt.deals["open"].resolved_at is None and rebuilt.deals["open"].appointment_at is not None
    assert rebuilt.deals["lost"].appointment_at is None and rebuilt.deals["lost"].credited_minor == 0
    ours, theirs = kept.posterior(["a", "b"], NOW, model), rebuilt.posterior(["a", "b"], NOW, model)
    for name in ("rate_shape", "rate_rate", "value_shape", "value_rate"):
        assert np.array_equal(getattr(ours, name), getattr(theirs, name)), name
