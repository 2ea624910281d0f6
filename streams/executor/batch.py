"""Many budget requests decided in one transaction: the executor's fast path.

Why: one request at a time cost a dozen database round trips and a publish-and-wait each, so a
campaign's queue (strictly in order) settled a few dozen requests a second. Here the requests of
many campaigns - each campaign's due requests in order - are decided together:

1. the guardrail state of all their campaigns and entities is read at once (:mod:`.batch_state`);
2. each request is decided in memory exactly as :meth:`.Executor.decide` decides it, in its
   campaign's order, every decision appended to the campaign's history before the next one is
   evaluated (the limits count it, as they would count its row);
3. the rows, the dry-run budgets and the supersession of changes waiting for a person are
   written in the same transaction; if any row turns out to exist already (another owner wrote it
   during a rebalance), the whole batch rolls back and its requests take the one-request path;
4. after the commit the outcomes are published together and awaited once.

What the fast path does not do it hands back, so nothing is weakened: a request whose change is
already recorded, an invalid one, one whose current budget only Meta knows, and a second decision
for an entity already decided in this batch go the one-request way (or the next batch). A
decision to send (an ``executing`` intent) ends its campaign's part of the batch: the intent is
sent by its campaign's worker, fenced (:meth:`.Executor.send_intent`), and the campaign's next
request is decided only after it settled - the order the one-request path keeps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from schemas.events import BudgetChangeRequested
from streams.core.metrics import GUARDRAIL_BLOCKS
from streams.executor import store
from streams.executor.batch_state import BatchState, load_state
from streams.executor.executor import Executor
from streams.executor.guardrails import Decision, PastChange, Proposal, dither, evaluate
from streams.executor.validity import problem_of


@dataclass(frozen=True)
class Item:
    """A due request as its campaign's queue hands it over."""

    request: BudgetChangeRequested
    received_at: datetime | None
    superseded_by: str | None = None
    """Set when a newer request for the entity was queued behind it (:mod:`.scheduler`)."""


@dataclass
class GroupResult:
    """What became of one campaign's items: the first ``done`` are settled and announced; then
    either ``intent`` (items[done] was decided to an unsent intent: send it) or ``single``
    (items[done] takes the one-request path) or neither (the rest waits for the next batch)."""

    done: int = 0
    intent: asyncpg.Record | None = None
    single: bool = False


class _Overlap(Exception):
    """A row of the batch existed already: roll back, let each request take the one-request path."""


@dataclass
class _Decided:
    group: int
    request: BudgetChangeRequested
    received_at: datetime | None
    fields: dict[str, Any]
    decision: Decision | None = None
    """None for a superseded request (no guardrails ran)."""


async def settle_batch(executor: Executor, groups: Sequence[Sequence[Item]]) -> list[GroupResult]:
    """Decide, record and announce what it can of ``groups`` (one per campaign queue, each in order)."""
    results = [GroupResult() for _ in groups]
    requests = [item.request for group in groups for item in group]
    if not requests:
        return results
    now = executor.clock.now()
    try:
        async with executor.pool.acquire() as conn, conn.transaction():
            state = await load_state(conn, requests, executor.settings, now, dry_run=executor.dry_run)
            plan = _plan(executor, state, groups, now, results)
            rows, superseded = await _write(conn, plan, now)
    except _Overlap:
        return [GroupResult(single=bool(group)) for group in groups]
    announced: list[asyncpg.Record] = []
    for decided in plan:
        announced.extend(superseded.get(decided.request.change_id, ()))
        row = rows[decided.request.change_id]
        if row["status"] == "executing":
            results[decided.group].intent = row
        else:
            announced.append(row)
        if decided.decision is not None:
            _count_blocks(decided.decision)
    await executor.announce_all(announced)
    return results


def _count_blocks(decision: Decision) -> None:
    for check in decision.failed:
        GUARDRAIL_BLOCKS.labels(guardrail=check.name, action=decision.action).inc()


def _plan(executor: Executor, state: BatchState, groups: Sequence[Sequence[Item]], now: datetime,
          results: list[GroupResult]) -> list[_Decided]:
    """Each group's items in order, until one needs something the batch does not do."""
    plan: list[_Decided] = []
    seen: set[str] = set()
    decided_entities: set[tuple[str, str]] = set()
    for index, group in enumerate(groups):
        result = results[index]
        for item in group:
            request = item.request
            entity = (request.tenant_id, request.entity_id)
            if request.change_id in seen:
                break  # a duplicate: the next batch finds the row and re-announces it
            if request.change_id in state.existing or problem_of(request) is not None:
                result.single = True
                break
            if item.superseded_by is None and entity in decided_entities:
                break  # its entity changed in this batch: decided after that is recorded
            by = item.superseded_by or state.newer.get(request.change_id)
            if by is not None:
                plan.append(_Decided(index, request, item.received_at, {
                    "status": "superseded", "decided_at": now, "settled_at": now, "dry_run": executor.dry_run,
                    "superseded_by": by, "error": f"superseded by {by}"}))
                seen.add(request.change_id)
                result.done += 1
                continue
            decided = _decide(executor, state, index, item, now)
            if decided is None:
                result.single = True
                break
            plan.append(decided)
            seen.add(request.change_id)
            decided_entities.add(entity)
            if decided.fields["status"] == "executing":
                break  # sent by its campaign's worker; the campaign's next request waits for it
            result.done += 1
    return plan


def _decide(executor: Executor, state: BatchState, index: int, item: Item, now: datetime) -> _Decided | None:
    """:meth:`.Executor.decide` in memory; None when the current budget must be read from Meta first."""
    request = item.request
    target = request.requested_budget.amount_minor
    if executor.settings.dither:
        target = dither(target, request.change_id, executor.settings.dither_fraction)
    current = state.current_budget(request.tenant_id, request.entity_id, dry_run=executor.dry_run)
    if current is None and executor.meta is not None:
        return None
    if current is None and request.previous_budget_minor is not None:
        current = (request.previous_budget_minor, request.requested_budget.currency)
    limits = state.limits.limits_for(request.tenant_id, request.campaign_id, request.entity_id)
    history = state.history.setdefault((request.tenant_id, request.campaign_id), [])
    proposal = Proposal(request.entity_id, request.campaign_id, request.requested_budget.currency, target,
                        current[0] if current else None, current[1] if current else None)
    decision = evaluate(proposal, history, limits, now,
                        paused=state.is_paused(request.tenant_id, request.campaign_id))
    fields = executor.decided_fields(request, decision, proposal, now,
                                     state.automation(request.tenant_id, request.campaign_id))
    if fields.get("counts_as_change"):  # as its row will be read by the next request's guardrails
        history.append(PastChange(request.entity_id, request.campaign_id, now, proposal.current_minor,
                                  int(fields["target_budget_minor"])))
    return _Decided(index, request, item.received_at, fields, decision)


async def _write(conn: Any, plan: list[_Decided], now: datetime
                 ) -> tuple[dict[str, asyncpg.Record], dict[str, list[asyncpg.Record]]]:
    rows = await store.insert_changes(conn, [(d.request, d.received_at, d.fields) for d in plan])
    if len(rows) != len(plan):
        raise _Overlap
    dry = [(d.request, int(d.fields["target_budget_minor"])) for d in plan if d.fields["status"] == "dry_run"]
    await store.upsert_budgets(conn, dry, "dry_run", now)
    decided = [(d.request.tenant_id, d.request.entity_id, d.request.change_id) for d in plan if d.decision]
    return rows, await store.supersede_awaiting_many(conn, decided, now)
