"""When the sampler decides, and the decision's publication: evidence-driven and on a schedule.

:func:`decide_group` reads a group's facts and evidence mark in one snapshot, decides
(:mod:`.decide`), publishes the decision and its budget requests, and records it. It runs after a
batch that brought enough new evidence (:meth:`SamplerStage.decide_if_due
<streams.sampler.app.SamplerStage.decide_if_due>`) and from :func:`every_group`, which decides
every owned group at least every ``schedule_seconds``.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import structlog

from streams.core.controls.killswitch import is_paused
from streams.core.stage import Resources
from streams.sampler import store
from streams.sampler.decide import decide
from streams.sampler.state import retention_cutoff

if TYPE_CHECKING:
    from streams.sampler.app import SamplerStage

log = structlog.get_logger("roasloop.sampler")


def due(last_decided_at: datetime | None, now: datetime, seconds: float) -> bool:
    return last_decided_at is None or now - last_decided_at >= timedelta(seconds=seconds)


async def decide_group(res: Resources, stage: SamplerStage, tenant_id: str, group_id: str) -> bool:
    """Decide one group and publish; False when there was nothing to allocate."""
    settings = stage.settings
    async with stage.deciding:
        model = settings.model()
        now = res.clock.now()
        # One snapshot: the evidence mark and the facts must describe the same applied events,
        # while the subscriber keeps applying new ones.
        async with res.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            row = await store.group_row(conn, tenant_id, group_id)
            if row is None:
                return False
            state = await store.load_group(conn, tenant_id, group_id, model, retention_cutoff(now, model), row)
            paused = await is_paused(conn, tenant_id, row.campaign_id)
        outcome = decide(state, row, now, settings, paused, stage.prior_source)
        if outcome is None:
            return False
        async with res.effects() as fx:
            fx.emit(outcome.decision)
            for request in outcome.requests:
                fx.emit(request)
            await fx.conn.execute(
                "INSERT INTO sampler_decisions"
                " (decision_id, tenant_id, group_id, decided_at, paused, requests, payload)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (decision_id) DO NOTHING",
                outcome.decision.decision_id, tenant_id, group_id, now, outcome.decision.paused,
                len(outcome.requests), outcome.decision.model_dump(mode="json"),
            )
            await store.mark_decided(fx.conn, tenant_id, group_id, now)
        log.info("allocation_decided", tenant_id=tenant_id, group_id=group_id,
                 decision_id=outcome.decision.decision_id, paused=outcome.decision.paused,
                 requests=len(outcome.requests))
        return True


async def every_group(res: Resources, stage: SamplerStage) -> None:
    """Decide every owned group at least every ``schedule_seconds`` (checked once a minute, or faster).

    ``schedule_seconds`` are the clock's seconds: on a sped-up clock (``roasloop dev``) the check
    runs as often in wall time as the schedule needs, or a simulated week would pass between checks.

    The heartbeat is wall time (a replay clock's ``sleep`` returns at once and would spin); whether a
    group is due is judged on the stage's clock, so a replay decides on event time.
    """
    every = stage.settings.schedule_seconds
    wall_seconds = getattr(res.clock, "wall_seconds", None)  # a sped-up clock: its seconds pass faster
    schedule_wall = float(wall_seconds(every)) if callable(wall_seconds) else every
    tick = max(min(60.0, schedule_wall / 4), 0.05)
    while True:
        await asyncio.sleep(tick)
        for tenant_id, group_id in sorted(stage.owned):
            async with res.pool.acquire() as conn:
                row = await store.group_row(conn, tenant_id, group_id)
            if row is not None and due(row.last_decided_at, res.clock.now(), every):
                try:
                    await decide_group(res, stage, tenant_id, group_id)
                except Exception:
                    log.exception("scheduled_decision_failed", tenant_id=tenant_id, group_id=group_id)
