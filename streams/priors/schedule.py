"""The learning cycle on a schedule: rebuild every tenant's priors, then wait, on the injected clock.

The stack runs it as ``roasloop priors rebuild --every SECONDS`` (one replica: the registry's
per-name advisory lock already serialises versions, but two builders would only waste CPU);
``roasloop dev`` runs the same loop in-process on its fast clock. One tenant's failure is logged
and the others still rebuild: a tenant's active version is never touched by another's trouble.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

import asyncpg
import structlog

from streams.core.clock import Clock
from streams.core.storage import ObjectStorage
from streams.priors.cycle import CycleConfig
from streams.priors.rebuild import RebuildResult, rebuild_tenant, tenants_to_rebuild

log = structlog.get_logger("roasloop.priors.schedule")


async def rebuild_all(pool: asyncpg.Pool[Any], storage: ObjectStorage, clock: Clock,
                      tenants: Sequence[str] | None = None, config: CycleConfig | None = None) -> list[RebuildResult]:
    results = []
    for tenant_id in tenants or await tenants_to_rebuild(pool):
        try:
            results.append(await rebuild_tenant(pool, storage, tenant_id, clock.now(), config))
        except (OSError, asyncpg.PostgresError, ValueError) as exc:
            log.warning("priors rebuild failed; the active version keeps serving", tenant_id=tenant_id,
                        error=type(exc).__name__)
            results.append(RebuildResult(tenant_id, "failed", type(exc).__name__))
    return results


async def every(pool: asyncpg.Pool[Any], storage: ObjectStorage, clock: Clock, seconds: float,
                stop: asyncio.Event | None = None, config: CycleConfig | None = None) -> None:
    """Rebuild all tenants, then sleep ``seconds`` of the clock's time; until ``stop`` is set."""
    stop = stop or asyncio.Event()
    while not stop.is_set():
        await rebuild_all(pool, storage, clock, config=config)
        sleeper = asyncio.ensure_future(clock.sleep(seconds))
        waiter = asyncio.ensure_future(stop.wait())
        await asyncio.wait({sleeper, waiter}, return_when=asyncio.FIRST_COMPLETED)
        for task in (sleeper, waiter):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
