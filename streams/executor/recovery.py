"""Settling an intent that was *sent* to Meta but has no outcome: read Meta, never send again.

Why a sent intent is never re-sent: its call may still land (a process paused mid-request, a
response lost on the way back), and a second call could move the budget twice. Why it is not
failed at once either: the sender is often alive and about to settle it itself (its call is
shielded from a revoke), so within ``reconcile_grace_seconds`` of the send a budget not yet at
target is "ask again shortly" (a transient error polled every second), and only after it is the
change ``failed``, naming who sent it and what Meta has. An intent that was never sent is not
reconciled at all: its partition's owner decides it again (:mod:`.executor`).
"""

from __future__ import annotations

from typing import Any, Protocol

import asyncpg
import structlog

from streams.core.clock import Clock
from streams.core.errors import TransientError
from streams.executor import store
from streams.executor.settings import ExecutorSettings
from streams.integrations.meta import ApplyResult, MetaError, MetaUnclear

log = structlog.get_logger("roasloop.executor")


class MetaGateway(Protocol):
    async def get_daily_budget(self, entity_id: str) -> int | None: ...

    async def apply_budget(self, entity_id: str, target_minor: int) -> ApplyResult: ...


def sender_of(row: asyncpg.Record) -> str:
    if row["sent_epoch"] is None:
        return "an unfenced executor"
    return f"{row['sent_topic']}[{row['sent_partition']}]@{row['sent_epoch']}"


async def reconcile_sent(pool: asyncpg.Pool[Any], clock: Clock, settings: ExecutorSettings,
                         meta: MetaGateway | None, row: asyncpg.Record) -> asyncpg.Record | None:
    """Settle a sent intent from Meta's budget; the settled row, or None when someone settled it first."""
    change_id = row["change_id"]
    target = int(row["target_budget_minor"])
    if meta is None:
        raise TransientError(f"{change_id} was left executing by a live executor; this one runs dry")
    try:
        current = await meta.get_daily_budget(row["entity_id"])
    except (MetaError, MetaUnclear, ConnectionError) as exc:
        raise TransientError(f"cannot reconcile {change_id}: {exc}") from None
    now = clock.now()
    if current != target and (now - row["sent_at"]).total_seconds() < settings.reconcile_grace_seconds:
        raise TransientError(f"{change_id} was sent by {sender_of(row)} at {row['sent_at'].isoformat()}; Meta "
                             f"has {current}, not {target} yet: waiting for the sender to settle it", retry_after=1.0)
    async with pool.acquire() as conn, conn.transaction():
        if current == target:
            settled = await store.settle_change(
                conn, change_id, status="clamped" if row["clamped"] else "completed",
                applied_budget_minor=target, settled_at=now,
                platform_response={"reconciled": True, "daily_budget": current})
            if settled is not None:
                await store.upsert_budget(conn, store.request_of(row), target, "meta", change_id, now)
        else:
            settled = await store.settle_change(
                conn, change_id, status="failed", counts_as_change=False, settled_at=now,
                error=f"sent to Meta by {sender_of(row)} without an answer; Meta has {current}, not {target}: "
                      "not re-applied (the call may still land)",
                platform_response={"reconciled": True, "daily_budget": current},
            )
    log.info("intent_reconciled", change_id=change_id, meta_budget=current, target=target)
    return settled
