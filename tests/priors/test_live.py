"""The live sampler's priors: a tenant's active version is used for its described ad sets, and reloaded on promotion."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg

from schemas.creatives import CreativeFeatures
from schemas.events import EntityAllocation
from streams.core.storage import LocalStorage
from streams.lab.priors.seed import seed_history
from streams.priors.bundle import model_name_for
from streams.priors.creatives import describe, record
from streams.priors.live import LivePriors
from streams.priors.rebuild import rebuild_tenant
from streams.priors.registry import ModelRegistry
from streams.sampler.coldstart import external_priors, prior_fields

NOW = datetime(2026, 3, 1, 4, tzinfo=UTC)


async def test_a_new_ad_set_starts_from_its_tenants_active_priors_and_the_decision_says_which(
        db_pool: asyncpg.Pool[Any], tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    live = LivePriors(db_pool, storage)
    async with db_pool.acquire() as conn:
        await seed_history(conn, "acme", "camp-1", adsets=200, end=date(2026, 3, 1), days=90, seed=1)
        await record(conn, describe(tenant_id="acme", group_id="camp-2", campaign_id="camp-2", entity_id="new-c",
                                    features=CreativeFeatures(creative_type="video", call_to_action="book_demo",
                                                              placement="reels", audience="lookalike"),
                                    text="demo pipeline growth", now=NOW))
    await live.refresh()
    assert external_priors(live, ["new-c"], tenant_id="acme") == [None]  # nothing promoted yet: no prior

    first = await rebuild_tenant(db_pool, storage, "acme", NOW)
    assert first.status == "promoted"
    assert await live.refresh() == ["acme"]
    [prior] = external_priors(live, ["new-c"], tenant_id="acme")
    assert prior is not None and prior.version == first.version and prior.pseudo_spend_minor > 0
    assert prior.source == "ctr+winners" and prior.details["winners"] >= 1
    assert external_priors(live, ["new-c"], tenant_id="other-tenant") == [None]
    recorded = EntityAllocation(entity_id="new-c", share=1.0, budget_minor=1000, **prior_fields(prior))
    assert recorded.prior_version == first.version and recorded.prior_strength_minor == prior.pseudo_spend_minor
    assert recorded.prior_winners == int(prior.details["winners"])

    second = await rebuild_tenant(db_pool, storage, "acme", NOW)  # same data: not worse, promoted
    assert second.status == "promoted"
    assert await live.refresh() == ["acme"]
    [reloaded] = external_priors(live, ["new-c"], tenant_id="acme")
    assert reloaded is not None and reloaded.version == second.version
    await ModelRegistry(db_pool).activate(model_name_for("acme"), first.version or 0)  # roll back
    await live.refresh()
    [rolled] = external_priors(live, ["new-c"], tenant_id="acme")
    assert rolled is not None and rolled.version == first.version


async def test_answers_are_remembered_until_the_ad_set_is_described_again(db_pool: asyncpg.Pool[Any],
                                                                          tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    live = LivePriors(db_pool, storage)
    video = CreativeFeatures(creative_type="video", call_to_action="book_demo", placement="reels")
    async with db_pool.acquire() as conn:
        await seed_history(conn, "acme", "camp-1", adsets=200, end=date(2026, 3, 1), days=90, seed=1)
        await record(conn, describe(tenant_id="acme", group_id="g", campaign_id="g", entity_id="new-c",
                                    features=video, now=NOW))
    assert (await rebuild_tenant(db_pool, storage, "acme", NOW)).status == "promoted"
    await live.refresh()
    [first] = external_priors(live, ["new-c"], tenant_id="acme")
    [again] = external_priors(live, ["new-c"], tenant_id="acme")
    assert again is first  # no model call for an answer already given
    async with db_pool.acquire() as conn:
        await record(conn, describe(tenant_id="acme", group_id="g", campaign_id="g", entity_id="new-c", now=NOW,
                                    features=video.model_copy(update={"creative_type": "text", "placement": "feed"})))
    await live.refresh()
    [redescribed] = external_priors(live, ["new-c"], tenant_id="acme")
    assert redescribed is not first and redescribed is not None
    assert redescribed.details != first.details if first is not None else True
