"""Changes that wait for a person: approved, rejected, or expired - each ends in one outcome.

In a campaign under ``approval`` mode (:mod:`streams.core.controls.automation`) the executor
records a large change as ``awaiting_approval`` instead of sending it, and announces it on
``budget.outcomes.v1``. A person's verdict arrives as a :class:`BudgetChangeReviewed` on
``budget.reviews.v1`` - keyed and partitioned like the requests, so the executor instance that
owns the group (and its queue) applies it, in order with the group's requests:

- **approve**: the change is decided as if just requested - the guardrails as they are now, the
  kill switch, Meta - and its waiting row takes the outcome (``completed``, ``clamped``,
  ``blocked``, ...);
- **reject**: ``rejected``, never sent;
- nobody answers within the mode's TTL: ``expired``, never sent (:func:`expire_due`, run by the
  owner of the group's partition);
- a newer request for the same entity: ``superseded`` (the executor does that when it decides
  the newer one).

A verdict for a change that no longer waits changes nothing and re-announces its outcome, so a
redelivered or late verdict is harmless.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from schemas.events import BudgetChangeReviewed, BudgetChangeSettled
from streams.executor import store
from streams.executor.executor import Executor, Review
from streams.executor.fencing import Fence

log = structlog.get_logger("roasloop.executor")


async def review(executor: Executor, verdict: BudgetChangeReviewed,
                 fence: Fence | None = None) -> BudgetChangeSettled | None:
    """Apply a person's verdict; None when no such change exists for the tenant."""
    row = await store.get_change(executor.pool, verdict.change_id)
    if row is None or row["tenant_id"] != verdict.tenant_id:
        log.warning("review_of_unknown_change", tenant_id=verdict.tenant_id, change_id=verdict.change_id)
        return None
    if row["status"] != "awaiting_approval":
        return await executor.settled_or_reconciled(row, fence)
    if verdict.verdict == "approve":
        return await executor.decide(store.request_of(row), row["received_at"],
                                     Review(verdict.reviewed_by, verdict.reason), fence=fence)
    now = executor.clock.now()
    async with executor.pool.acquire() as conn:
        rejected = await store.resolve_awaiting(
            conn, verdict.change_id, status="rejected", settled_at=now, reviewed_by=verdict.reviewed_by,
            reviewed_at=now, review_reason=verdict.reason, error=f"rejected by {verdict.reviewed_by}")
    return await executor.announce(await executor.stored(rejected, verdict.change_id))


async def expire_due(executor: Executor, owns: Callable[[str, str], bool]) -> int:
    """Expire the waiting changes of the groups this instance owns whose time ran out; returns how many."""
    now = executor.clock.now()
    expired = 0
    for row in await store.due_awaiting(executor.pool, now):
        if not owns(row["tenant_id"], row["group_id"]):
            continue  # another instance owns the group: it expires its own
        async with executor.pool.acquire() as conn:
            settled = await store.resolve_awaiting(
                conn, row["change_id"], status="expired", settled_at=now,
                error=f"no one approved it before {row['expires_at'].isoformat()}")
        if settled is not None:
            await executor.announce(settled)
            expired += 1
    return expired
