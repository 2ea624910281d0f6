"""The sampler's in-memory groups: the same state PostgreSQL would rebuild, and never ahead of a commit."""

from __future__ import annotations

from typing import Any

import asyncpg
import numpy as np

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
