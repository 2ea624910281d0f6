"""The model registry on a real PostgreSQL, and the sampler-side reload of the active version."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np
import pytest

from streams.core.storage import LocalStorage
from streams.lab.priors.cli import store_model
from streams.lab.priors.synthetic import SyntheticHistory
from streams.priors.ctr import CtrModel, train_ctr_model
from streams.priors.registry import ActiveArtifact, ModelRegistry
from streams.priors.source import CtrAndWinnersPriorSource


@pytest.fixture(scope="module")
def small_models() -> tuple[CtrModel, CtrModel, SyntheticHistory]:
    h1, h2 = SyntheticHistory(n_ads=150, days=40, seed=1), SyntheticHistory(n_ads=150, days=40, seed=2)
    return train_ctr_model(h1.rows()), train_ctr_model(h2.rows()), h1


async def test_versions_number_up_and_one_is_active(db_pool: asyncpg.Pool[Any]) -> None:
    registry = ModelRegistry(db_pool)
    assert await registry.active("ctr") is None
    v1 = await registry.register("ctr", "models/ctr/a.json", {"auc": 0.61})
    v2 = await registry.register("ctr", "models/ctr/b.json", {"auc": 0.64})
    v3 = await registry.register("ctr", "models/ctr/c.json", {"auc": 0.50}, activate=False)
    assert [v.version for v in (v1, v2, v3)] == [1, 2, 3]
    active = await registry.active("ctr")
    assert active is not None and active.version == 2 and active.metrics == {"auc": 0.64}
    await registry.activate("ctr", 1)
    assert [v.active for v in await registry.versions("ctr")] == [True, False, False]
    with pytest.raises(LookupError):
        await registry.activate("ctr", 9)
    assert (await registry.register("winners", "w.npz", {})).version == 1  # numbering per model


async def test_concurrent_registrations_get_distinct_versions(db_pool: asyncpg.Pool[Any]) -> None:
    registry = ModelRegistry(db_pool)
    versions = await asyncio.gather(*(registry.register("race", f"k{i}", {}) for i in range(4)))
    assert sorted(v.version for v in versions) == [1, 2, 3, 4]
    assert sum(v.active for v in await registry.versions("race")) == 1


async def test_sampler_loads_the_active_model_and_reloads_a_new_one(
    db_pool: asyncpg.Pool[Any], tmp_path: Path, small_models: tuple[CtrModel, CtrModel, SyntheticHistory]
) -> None:
    first, second, history = small_models
    storage, registry = LocalStorage(tmp_path), ModelRegistry(db_pool)
    handle = ActiveArtifact(registry, storage, "ctr", CtrModel.from_bytes)
    source = CtrAndWinnersPriorSource(handle)
    entities = [a.features for a in history.ads[:5]]
    assert source.prior_for(entities)[0].source == "default"  # nothing registered yet
    assert await handle.refresh() is False

    await registry.register("ctr", store_model(storage, first), first.metrics)
    assert await handle.refresh() is True
    assert await handle.refresh() is False  # same version: nothing to do
    before = [p.mean_roas for p in source.prior_for(entities)]
    np.testing.assert_allclose(handle.current.predict(entities)[0], first.predict(entities)[0])  # type: ignore[union-attr]

    await registry.register("ctr", store_model(storage, second), second.metrics)
    stop = asyncio.Event()
    watcher = asyncio.create_task(handle.watch(interval_s=0.05, stop=stop))
    for _ in range(100):
        await asyncio.sleep(0.05)
        if handle.version is not None and handle.version.version == 2:
            break
    stop.set()
    await watcher
    assert handle.version is not None and handle.version.version == 2
    assert [p.mean_roas for p in source.prior_for(entities)] != before


async def test_a_broken_artifact_keeps_the_previous_model(
    db_pool: asyncpg.Pool[Any], tmp_path: Path, small_models: tuple[CtrModel, CtrModel, SyntheticHistory]
) -> None:
    storage, registry = LocalStorage(tmp_path), ModelRegistry(db_pool)
    handle = ActiveArtifact(registry, storage, "ctr", CtrModel.from_bytes)
    await registry.register("ctr", store_model(storage, small_models[0]), {})
    assert await handle.refresh()
    storage.put("models/ctr/broken.json", b"{not json")
    await registry.register("ctr", "models/ctr/broken.json", {})
    assert await handle.refresh() is False
    assert handle.version is not None and handle.version.version == 1 and handle.current is not None
