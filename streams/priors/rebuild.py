"""``roasloop priors rebuild``'s work for one tenant: build, judge against the active version, promote or keep.

Every build is recorded in the model registry with its held-out scores and the active version's
scores on the *same* held-out days; only a build that is not worse becomes active. A build that
cannot be made (too little history, an error) registers nothing, and an artifact that does not
load back from storage is never activated: the active version keeps serving in every failure.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import asyncpg
import structlog

from streams.core.storage import ObjectStorage
from streams.priors.bundle import CONTENT_TYPE, PriorBundle, model_name_for
from streams.priors.creatives import DEFAULT_EMBEDDER
from streams.priors.ctr import NotEnoughData
from streams.priors.cycle import CycleConfig, build, evaluate, not_worse
from streams.priors.registry import ModelRegistry
from streams.priors.tenant_history import load_history

log = structlog.get_logger("roasloop.priors.rebuild")
Status = Literal["promoted", "kept", "no-data", "failed"]


@dataclass
class RebuildResult:
    tenant_id: str
    status: Status
    reason: str
    version: int | None = None
    active_version: int | None = None
    candidate: dict[str, Any] = field(default_factory=dict)
    active: dict[str, Any] = field(default_factory=dict)


async def tenants_to_rebuild(pool: asyncpg.Pool[Any]) -> list[str]:
    """Tenants with described ad sets: the only ones the priors can learn anything for."""
    return [r["tenant_id"] for r in await pool.fetch("SELECT DISTINCT tenant_id FROM creative_features ORDER BY 1")]


def _load_active(storage: ObjectStorage, key: str) -> PriorBundle | None:
    try:
        return PriorBundle.from_bytes(storage.get(key).data)
    except Exception:  # a broken active artifact is judged as "priors off"; the reader keeps its copy
        log.exception("active priors artifact does not load", artifact_key=key)
        return None


async def rebuild_tenant(pool: asyncpg.Pool[Any], storage: ObjectStorage, tenant_id: str, now: datetime,
                         config: CycleConfig | None = None, embedder: str = DEFAULT_EMBEDDER.name) -> RebuildResult:
    cfg = config or CycleConfig()
    registry, name = ModelRegistry(pool), model_name_for(tenant_id)
    async with pool.acquire() as conn:
        history = await load_history(conn, tenant_id, embedder)
    active_row = await registry.active(name)
    active_version = active_row.version if active_row else None
    try:
        bundle, holdout = await asyncio.to_thread(build, history, cfg, embedder)
        candidate = await asyncio.to_thread(evaluate, bundle, holdout, cfg)
        active_bundle = await asyncio.to_thread(_load_active, storage, active_row.artifact_key) if active_row else None
        active = await asyncio.to_thread(evaluate, active_bundle, holdout, cfg)
    except NotEnoughData as exc:
        return RebuildResult(tenant_id, "no-data", str(exc), active_version=active_version)
    promote, reason = not_worse(candidate, active, cfg.tolerance)
    bundle.metrics = {"candidate": candidate, "active": active, "active_version": active_version,
                      "promoted": promote, "reason": reason}
    key = f"models/{name}/{now.strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:8]}.json"
    try:
        storage.put(key, bundle.to_bytes(), content_type=CONTENT_TYPE, metadata={"model": name})
        PriorBundle.from_bytes(storage.get(key).data)  # what readers will load must load
    except Exception as exc:
        log.exception("priors artifact not stored intact; keeping the active version", tenant_id=tenant_id)
        return RebuildResult(tenant_id, "failed", f"artifact not stored intact: {type(exc).__name__}",
                             active_version=active_version, candidate=candidate, active=active)
    params = {"embedder": embedder, "cycle": cfg.model_dump(mode="json"), "built_at": now.isoformat()}
    version = await registry.register(name, key, bundle.metrics, params, activate=promote)
    result = RebuildResult(tenant_id, "promoted" if promote else "kept", reason, version.version,
                           version.version if promote else active_version, candidate, active)
    log.info("priors_rebuilt", tenant_id=tenant_id, status=result.status, version=version.version,
             prior_log_rmse=candidate["prior_log_rmse"], active_prior_log_rmse=active["prior_log_rmse"])
    return result
