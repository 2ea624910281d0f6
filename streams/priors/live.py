"""The live sampler's priors: each tenant's active version, reloaded on promotion, with its ad sets' creatives.

:class:`LivePriors` is what ``SamplerStage.prior_source`` holds. :meth:`refresh` (run every few
seconds by :meth:`watch`) asks the registry for each described tenant's active priors and loads
a newly promoted version off the event loop (:class:`~streams.priors.registry.ActiveArtifact`: a
version that does not load is skipped and the previous one keeps serving), and reloads the
tenant's recorded creatives. ``for_tenant(t).prior_for(entities)`` is then synchronous and does
no I/O: it swaps each bare entity for its recorded description (features + embedding) and
answers with the active version's number on every prior, so a decision can say which version
and how strong a prior each entity started from. A tenant without an active version gets None
(the sampler then runs without external priors, as before).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field, replace
from typing import Any

import asyncpg
import structlog

from streams.core.stage import Resources
from streams.core.storage import ObjectStorage, open_storage
from streams.priors.bundle import PriorBundle, model_name_for
from streams.priors.creatives import load_features
from streams.priors.features import EntityFeatures
from streams.priors.rebuild import tenants_to_rebuild
from streams.priors.registry import ActiveArtifact, ModelRegistry
from streams.priors.source import CtrAndWinnersPriorSource, Prior

log = structlog.get_logger("roasloop.priors.live")


@dataclass
class _Tenant:
    artifact: ActiveArtifact[PriorBundle]
    features: dict[str, EntityFeatures] = field(default_factory=dict)
    source: CtrAndWinnersPriorSource | None = None
    answers: dict[str, Prior] = field(default_factory=dict)
    """Priors already computed under the current version and descriptions: the sampler asks on every
    event, and a prior changes only with a promotion or a re-description."""


class TenantSource:
    """One tenant's active priors over its recorded creatives (answers remembered per ad set)."""

    def __init__(self, source: CtrAndWinnersPriorSource, version: int, features: dict[str, EntityFeatures],
                 answers: dict[str, Prior] | None = None) -> None:
        self.source, self.version, self.features = source, version, features
        self.answers = answers if answers is not None else {}

    def prior_for(self, entities: list[EntityFeatures]) -> list[Prior]:
        missing = list({e.entity_id: self.features.get(e.entity_id, e) for e in entities
                        if e.entity_id not in self.answers}.values())
        for entity, prior in zip(missing, self.source.prior_for(missing) if missing else [], strict=True):
            self.answers[entity.entity_id] = replace(prior, version=self.version)
        return [self.answers[e.entity_id] for e in entities]


class LivePriors:
    def __init__(self, pool: asyncpg.Pool[Any], storage: ObjectStorage) -> None:
        self.pool, self.storage = pool, storage
        self.registry = ModelRegistry(pool)
        self.tenants: dict[str, _Tenant] = {}

    def for_tenant(self, tenant_id: str) -> TenantSource | None:
        tenant = self.tenants.get(tenant_id)
        if tenant is None or tenant.source is None or tenant.artifact.version is None:
            return None
        return TenantSource(tenant.source, tenant.artifact.version.version, tenant.features, tenant.answers)

    async def refresh(self) -> list[str]:
        """Reload what changed; returns the tenants whose active version changed."""
        changed = []
        for tenant_id in await tenants_to_rebuild(self.pool):
            tenant = self.tenants.get(tenant_id)
            if tenant is None:
                tenant = self.tenants[tenant_id] = _Tenant(ActiveArtifact(
                    self.registry, self.storage, model_name_for(tenant_id), PriorBundle.from_bytes))
            if await tenant.artifact.refresh():
                changed.append(tenant_id)
            bundle = tenant.artifact.current
            if bundle is None:
                continue
            async with self.pool.acquire() as conn:
                features = await load_features(conn, tenant_id, embedder=bundle.embedder)
            if features != tenant.features:
                tenant.features, tenant.answers = features, {}
            if tenant_id in changed or tenant.source is None:
                tenant.source, tenant.answers = bundle.source(), {}
                log.info("priors_loaded", tenant_id=tenant_id, version=tenant.artifact.version.version
                         if tenant.artifact.version else None)
        return changed

    async def watch(self, interval_s: float, stop: asyncio.Event | None = None) -> None:
        """Refresh every ``interval_s`` wall seconds until ``stop`` is set (a stage task)."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            try:
                await self.refresh()
            except (OSError, asyncpg.PostgresError) as exc:  # database briefly away: next round
                log.warning("priors refresh failed; keeping the loaded versions", error=type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_s)


def live_priors(res: Resources, refresh_seconds: float) -> LivePriors:
    """The stage's per-tenant priors, refreshed by a task of the stage's own."""
    priors = LivePriors(res.pool, open_storage(res.settings))
    res.spawn(priors.watch(refresh_seconds), name="priors-refresh")
    return priors
