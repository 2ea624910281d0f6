"""The learning cycle on a real PostgreSQL: build on a time split, promote only when not worse, never break."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from streams.core.storage import LocalStorage
from streams.lab.priors.seed import seed_history
from streams.priors.bundle import PriorBundle, model_name_for
from streams.priors.cycle import CycleConfig
from streams.priors.rebuild import rebuild_tenant
from streams.priors.registry import ActiveArtifact, ModelRegistry

NOW = datetime(2026, 3, 1, 4, tzinfo=UTC)


@pytest.fixture
async def history(db_pool: asyncpg.Pool[Any]) -> None:
    async with db_pool.acquire() as conn:
        await seed_history(conn, "acme", "camp-1", adsets=200, end=date(2026, 3, 1), days=90, seed=1)


async def test_first_rebuild_beats_priors_off_and_is_promoted(db_pool: asyncpg.Pool[Any], history: None,
                                                              tmp_path: Path) -> None:
    result = await rebuild_tenant(db_pool, LocalStorage(tmp_path), "acme", NOW)
    assert result.status == "promoted", result.reason
    assert result.candidate["prior_log_rmse"] < result.active["prior_log_rmse"]  # active = priors off
    assert result.candidate["ctr_auc"] > 0.55
    active = await ModelRegistry(db_pool).active(model_name_for("acme"))
    assert active is not None and active.version == result.version
    assert active.metrics["candidate"]["judged_entities"] >= 5 and active.metrics["promoted"] is True


async def test_a_worse_build_is_recorded_but_the_active_version_keeps_serving(
        db_pool: asyncpg.Pool[Any], history: None, tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    first = await rebuild_tenant(db_pool, storage, "acme", NOW)
    # a build that knows nothing of creatives: no CTR model, no winners
    crippled = CycleConfig(ctr_params={"num_leaves": 2, "min_data_in_leaf": 10_000_000}, top_fraction=0.01,
                           tolerance=0.0)
    second = await rebuild_tenant(db_pool, storage, "acme", NOW, config=crippled)
    assert second.status == "kept", second.reason
    versions = await ModelRegistry(db_pool).versions(model_name_for("acme"))
    assert [(v.version, v.active) for v in versions] == [(first.version, True), (second.version, False)]
    assert versions[1].metrics["promoted"] is False and "active" in versions[1].metrics


async def test_a_tenant_without_history_gets_no_version(db_pool: asyncpg.Pool[Any], tmp_path: Path) -> None:
    result = await rebuild_tenant(db_pool, LocalStorage(tmp_path), "nobody", NOW)
    assert result.status == "no-data" and result.version is None
    assert await ModelRegistry(db_pool).versions(model_name_for("nobody")) == []


async def test_a_broken_artifact_never_replaces_a_working_one(db_pool: asyncpg.Pool[Any], history: None,
                                                              tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    first = await rebuild_tenant(db_pool, storage, "acme", NOW)
    registry = ModelRegistry(db_pool)
    reader = ActiveArtifact(registry, storage, model_name_for("acme"), PriorBundle.from_bytes)
    assert await reader.refresh() and reader.current is not None
    storage.put("models/broken.json", b"{not json")
    await registry.register(model_name_for("acme"), "models/broken.json", {"promoted": True})
    assert await reader.refresh() is False
    assert reader.version is not None and reader.version.version == first.version and reader.current is not None
