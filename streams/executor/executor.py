"""One budget change request, from "received" to a settled, audited, published outcome.

The order of writes is what makes a change impossible to apply twice:

1. a row for the ``change_id`` already exists -> nothing is sent again; a settled row's outcome is
   re-published (same ``event_id``, consumers dedupe), an ``executing`` row is reconciled;
2. guardrails are evaluated from the audit trail and the decision is written in one transaction -
   final at once for blocked / superseded / no-op / dry-run / shadow, ``awaiting_approval`` when the
   campaign's automation mode wants a person to look first (:mod:`.approvals` takes it from there),
   else an ``executing`` *intent* row;
3. only then is Meta called; its answer settles the intent row;
4. the outcome is published on ``budget.outcomes.v1``.

Between 2 and 3 the intent is marked *sent*, in a transaction that checks the partition's owner
epoch (:mod:`.fencing`): an instance that lost the partition is refused there and never calls
Meta. An intent found ``executing`` later (a crash, a rebalance, a redelivery) is therefore one of
two kinds. Never sent: it is decided again, through the guardrails as they are now, and applied -
a rebalance never fails a change. Sent: it is reconciled by reading the budget from Meta: at
target -> completed; otherwise it waits ``reconcile_grace_seconds`` for the sender to settle it,
then fails naming why, *not* re-applied (the call may still land). A campaign's requests run one
at a time (see ``scheduler``), so the history read and the intent write cannot race for one
campaign. Many requests at once take :mod:`.batch`, which records exactly what this path records
(one :meth:`Executor.decided_fields`) and hands back to it what it does not do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
import structlog

from schemas.events import BudgetChangeRequested, BudgetChangeSettled
from streams.core.clock import Clock
from streams.core.controls.automation import Automation, automation_for
from streams.core.controls.killswitch import is_paused
from streams.core.controls.limits import load_limits
from streams.core.db import Conn
from streams.core.errors import TransientError
from streams.core.metrics import GUARDRAIL_BLOCKS
from streams.executor import store
from streams.executor.fencing import Fence, Fenced, mark_sent
from streams.executor.guardrails import Decision, Proposal, dither, evaluate
from streams.executor.recovery import MetaGateway as MetaGateway  # re-exported: callers type their gateways
from streams.executor.recovery import reconcile_sent
from streams.executor.settings import ExecutorSettings
from streams.executor.validity import problem_of, storable
from streams.integrations.meta import ApplyResult, MetaChangeFailed, MetaError, MetaUnclear

log = structlog.get_logger("roasloop.executor")

Publish = Callable[[BudgetChangeSettled], Awaitable[None]]
PublishMany = Callable[[list[BudgetChangeSettled]], Awaitable[None]]


@dataclass(frozen=True)
class Review:
    """A person's approval of a change that waited: who, and why."""

    reviewed_by: str
    reason: str = ""


@dataclass
class Executor:
    """Executes requests; ``meta=None`` is dry-run: everything but the Graph API call."""

    pool: asyncpg.Pool[Any]
    clock: Clock
    settings: ExecutorSettings
    meta: MetaGateway | None
    publish: Publish | None = None
    publish_many: PublishMany | None = None
    """Publishes a batch's outcomes together (:meth:`announce_all`); else they go one by one."""
    sending: set[asyncio.Task[asyncpg.Record]] = field(default_factory=set)
    """Meta calls under way: they finish (and settle) even when the job that made them is dropped."""

    @property
    def dry_run(self) -> bool:
        return self.meta is None

    async def execute(self, request: BudgetChangeRequested, *, received_at: datetime | None = None,
                      superseded_by: str | None = None, fence: Fence | None = None) -> BudgetChangeSettled:
        """Run one request to its outcome; raises :class:`Fenced` when its partition moved on."""
        existing = await store.get_change(self.pool, request.change_id)
        if existing is not None:
            return await self.settled_or_reconciled(existing, fence)
        problem = problem_of(request)
        if problem is not None:
            log.warning("budget_change_invalid", change_id=request.change_id, error=problem)
            return await self._record_failed(storable(request), problem, None)
        if superseded_by is None:
            superseded_by = await store.newer_request_settled(self.pool, request)
        if superseded_by is not None:
            return await self._record_superseded(request, superseded_by, received_at)
        return await self.decide(request, received_at, fence=fence)

    async def decide(self, request: BudgetChangeRequested, received_at: datetime | None,
                     review: Review | None = None, *, fence: Fence | None = None,
                     retake: bool = False) -> BudgetChangeSettled:
        """Guardrails, the campaign's automation mode, the recorded decision, then Meta.

        With ``review`` (a person approved a change that waited), the waiting row takes the
        decision instead of a new row: an approved change passes the guardrails as they are now.
        With ``retake`` an intent that was never sent takes it (its previous owner lost the
        partition before sending), and its own row does not count against it."""
        target = request.requested_budget.amount_minor
        if self.settings.dither:
            target = dither(target, request.change_id, self.settings.dither_fraction)
        current = await self._current(request)
        if isinstance(current, BudgetChangeSettled):
            return current

        now = self.clock.now()
        async with self.pool.acquire() as conn, conn.transaction():
            limits = await load_limits(conn, self.settings, request.tenant_id, request.campaign_id,
                                       request.entity_id)
            # the held connection, never the pool: a second acquire per request deadlocks a busy pool
            paused = await is_paused(conn, request.tenant_id, request.campaign_id)
            history = await store.load_history(conn, request.tenant_id, request.campaign_id, now,
                                               limits.change_window, dry_run=self.dry_run,
                                               exclude=request.change_id if retake else None)
            proposal = Proposal(request.entity_id, request.campaign_id, request.requested_budget.currency, target,
                                current[0] if current else None, current[1] if current else None)
            decision = evaluate(proposal, history, limits, now, paused=paused)
            automation = await automation_for(conn, request.tenant_id, request.campaign_id)
            row = await self._write_decision(conn, request, decision, proposal, now, received_at, automation, review,
                                             retake)
            superseded = [] if row is None else await store.supersede_awaiting(
                conn, request.tenant_id, request.entity_id, request.change_id, now)
        for older in superseded:
            await self.announce(older)
        if row is None:  # another owner wrote it first (rebalance overlap), or a person acted: report theirs
            again = await store.get_change(self.pool, request.change_id)
            assert again is not None
            return await self.settled_or_reconciled(again, fence)
        for check in decision.failed:
            GUARDRAIL_BLOCKS.labels(guardrail=check.name, action=decision.action).inc()
        if row["status"] == "executing":
            row = await self._call_meta(request, fence)
        return await self.announce(row)

    # -- steps ------------------------------------------------------------------------------
    async def _current(self, request: BudgetChangeRequested) -> tuple[int, str] | BudgetChangeSettled | None:
        known = await store.current_budget(self.pool, request.tenant_id, request.entity_id, dry_run=self.dry_run)
        if known is not None:
            return known
        if self.meta is None:
            previous = request.previous_budget_minor
            return (previous, request.requested_budget.currency) if previous is not None else None
        try:
            value = await self.meta.get_daily_budget(request.entity_id)
        except MetaError as exc:
            if exc.kind == "permanent":
                return await self._record_failed(request, exc.message, exc.body)
            raise TransientError(str(exc), retry_after=exc.usage.regain_seconds or None) from None
        except MetaUnclear as exc:
            raise TransientError(str(exc)) from None
        if value is None:
            return await self._record_failed(request, "Meta reports no daily_budget for this entity", None)
        return value, request.requested_budget.currency

    def decided_fields(self, request: BudgetChangeRequested, decision: Decision, proposal: Proposal, now: datetime,
                       automation: Automation, review: Review | None = None) -> dict[str, Any]:
        """The row fields a decision is recorded with (``status`` among them); one place for the
        one-request path and :mod:`.batch` alike."""
        common: dict[str, Any] = {
            "decided_at": now, "dry_run": self.dry_run, "previous_budget_minor": proposal.current_minor,
            "guardrails": store.guardrails_json(decision.checks), "clamped": decision.clamped,
        }
        if automation.mode == "shadow":  # recorded and shown with what the guardrails would do; never sent
            return {**common, "status": "shadow", "settled_at": now, "target_budget_minor": decision.target_minor,
                    "error": decision.reason if decision.action == "blocked" else None}
        if decision.action == "blocked":
            return {**common, "status": "blocked", "settled_at": now, "error": decision.reason}
        if decision.action == "noop":
            return {**common, "status": "completed", "settled_at": now, "target_budget_minor": decision.target_minor,
                    "applied_budget_minor": decision.target_minor}
        assert decision.target_minor is not None
        if review is None and request.source == "sampler" and \
                automation.needs_approval(proposal.current_minor, decision.target_minor):
            return {**common, "status": "awaiting_approval", "target_budget_minor": decision.target_minor,
                    "expires_at": now + automation.approval_ttl}
        if self.dry_run:
            return {**common, "status": "dry_run", "settled_at": now, "applied_at": now, "counts_as_change": True,
                    "target_budget_minor": decision.target_minor, "applied_budget_minor": decision.target_minor}
        return {**common, "status": "executing", "applied_at": now, "target_budget_minor": decision.target_minor,
                "counts_as_change": True}

    async def _write_decision(self, conn: Conn, request: BudgetChangeRequested, decision: Decision,
                              proposal: Proposal, now: datetime, received_at: datetime | None,
                              automation: Automation, review: Review | None, retake: bool) -> asyncpg.Record | None:
        fields = self.decided_fields(request, decision, proposal, now, automation, review)
        if retake:
            row = await store.retake_intent(conn, request.change_id, **fields)
        elif review is None:
            row = await store.insert_change(conn, request, received_at=received_at, **fields)
        else:
            row = await store.resolve_awaiting(conn, request.change_id, reviewed_by=review.reviewed_by,
                                               reviewed_at=now, review_reason=review.reason, **fields)
        if row is not None and fields["status"] == "dry_run":
            await store.upsert_budget(conn, request, int(fields["target_budget_minor"]), "dry_run", request.change_id,
                                     now)
        return row

    async def send_intent(self, request: BudgetChangeRequested, fence: Fence | None) -> BudgetChangeSettled:
        """Send an intent a batch decided (:mod:`.batch`), fenced as in :meth:`decide`, and announce it."""
        return await self.announce(await self._call_meta(request, fence))

    async def _call_meta(self, request: BudgetChangeRequested, fence: Fence | None) -> asyncpg.Record:
        """Mark the intent sent while the fence holds, then send - as one task that outlives a dropped
        job, so no cancellation can fall between the two (a marked intent that is never sent)."""
        task = asyncio.ensure_future(self._mark_and_send(request, fence))
        self.sending.add(task)
        task.add_done_callback(self.sending.discard)
        return await asyncio.shield(task)

    async def _mark_and_send(self, request: BudgetChangeRequested, fence: Fence | None) -> asyncpg.Record:
        async with self.pool.acquire() as conn, conn.transaction():
            try:
                marked = await mark_sent(conn, request.change_id, fence, self.clock.now())
            except Fenced as exc:
                log.warning("meta_call_fenced", change_id=request.change_id, fence=str(fence), error=str(exc))
                raise
        if marked is None:  # settled, re-decided or sent by the partition's new owner meanwhile
            return await self.stored(None, request.change_id)
        return await self._send(request, marked)

    async def _send(self, request: BudgetChangeRequested, row: asyncpg.Record) -> asyncpg.Record:
        assert self.meta is not None
        target = int(row["target_budget_minor"])
        try:
            result = await self.meta.apply_budget(request.entity_id, target)
        except MetaChangeFailed as exc:
            settled_at = self.clock.now()
            async with self.pool.acquire() as conn, conn.transaction():
                settled = await store.settle_change(conn, request.change_id, status="failed", error=exc.message,
                                                    attempts=exc.attempts, platform_response=exc.response,
                                                    counts_as_change=exc.maybe_applied, settled_at=settled_at)
            log.warning("budget_change_failed", change_id=request.change_id, error=exc.message)
        else:
            settled = await self._record_applied(request, row, result)
        return await self.stored(settled, request.change_id)

    async def _record_applied(self, request: BudgetChangeRequested, row: asyncpg.Record,
                              result: ApplyResult) -> asyncpg.Record | None:
        at = self.clock.now()
        status = "clamped" if row["clamped"] else "completed"
        async with self.pool.acquire() as conn, conn.transaction():
            settled = await store.settle_change(conn, request.change_id, status=status,
                                                applied_budget_minor=result.applied_minor, attempts=result.attempts,
                                                platform_response=result.response, applied_at=at, settled_at=at)
            await store.upsert_budget(conn, request, result.applied_minor, "meta", request.change_id, at)
        return settled

    async def _record_superseded(self, request: BudgetChangeRequested, by: str,
                                 received_at: datetime | None) -> BudgetChangeSettled:
        now = self.clock.now()
        row = await store.insert_change(self.pool, request, status="superseded", decided_at=now, settled_at=now,
                                        received_at=received_at, dry_run=self.dry_run, superseded_by=by,
                                        error=f"superseded by {by}")
        return await self.announce(await self.stored(row, request.change_id))

    async def _record_failed(self, request: BudgetChangeRequested, message: str,
                             response: dict[str, Any] | None) -> BudgetChangeSettled:
        now = self.clock.now()
        failed: dict[str, Any] = {"status": "failed", "decided_at": now, "settled_at": now, "dry_run": self.dry_run,
                                  "error": message, "platform_response": response}
        async with self.pool.acquire() as conn:
            row = await store.insert_change(conn, request, received_at=None, **failed)
            if row is None:  # an approved change that waited: its row fails
                row = await store.resolve_awaiting(conn, request.change_id, **failed)
        return await self.announce(await self.stored(row, request.change_id))

    async def abandon(self, request: BudgetChangeRequested, error: str) -> BudgetChangeSettled | None:
        """A request that kept failing on a bug ends ``failed`` with the error, never silently.

        Only where no outcome exists yet and nothing was sent: a settled row keeps its outcome and
        a sent intent is left to reconciliation. Returns the outcome, or None when it kept its own."""
        row = await store.get_change(self.pool, request.change_id)
        if row is None or row["status"] == "awaiting_approval":
            return await self._record_failed(storable(request), error, None)
        if row["status"] != "executing" or row["sent_at"] is not None:
            return None
        async with self.pool.acquire() as conn:
            failed = await store.retake_intent(conn, request.change_id, status="failed", error=error,
                                               counts_as_change=False, settled_at=self.clock.now())
        return None if failed is None else await self.announce(failed)

    async def stored(self, written: asyncpg.Record | None, change_id: str) -> asyncpg.Record:
        """The row a write returned; when the write found the row taken (another owner inserted or
        settled it first, a rebalance overlap), the row as that owner left it."""
        if written is not None:
            return written
        row = await store.get_change(self.pool, change_id)
        assert row is not None
        return row

    async def settled_or_reconciled(self, row: asyncpg.Record, fence: Fence | None = None) -> BudgetChangeSettled:
        if row["status"] == "executing" and row["sent_at"] is None:
            log.info("intent_retaken", change_id=row["change_id"], fence=str(fence))
            return await self.decide(store.request_of(row), row["received_at"], fence=fence, retake=True)
        if row["status"] == "executing":
            row = await self._reconcile_row(row)
        return await self.announce(row)

    async def _reconcile_row(self, row: asyncpg.Record) -> asyncpg.Record:
        """An intent that was sent but has no outcome (:mod:`.recovery`)."""
        settled = await reconcile_sent(self.pool, self.clock, self.settings, self.meta, row)
        return await self.stored(settled, row["change_id"])

    async def reconcile(self) -> int:
        """Settle every intent left ``executing`` (at start-up); returns how many were settled.

        An intent Meta cannot be asked about right now (throttled, down) stays ``executing``: its
        request was never committed, so its redelivery reconciles it later. Raising here instead
        would stop the executor from starting for as long as Meta throttles.
        """
        settled = 0
        for row in await store.executing_changes(self.pool):
            if row["sent_at"] is None:  # never sent: its partition's owner decides it again on redelivery
                continue
            try:
                reconciled = await self._reconcile_row(row)
            except TransientError as exc:
                log.warning("intent_reconcile_deferred", change_id=row["change_id"], error=str(exc)[:300])
                continue
            await self.announce(reconciled)
            settled += 1
        return settled

    async def announce(self, row: asyncpg.Record) -> BudgetChangeSettled:
        outcome = store.outcome_of(row)
        if self.publish is not None:
            await self.publish(outcome)
        return outcome

    async def announce_all(self, rows: list[asyncpg.Record]) -> list[BudgetChangeSettled]:
        """Publish a batch's outcomes in order, concurrently, and return once all are acknowledged."""
        outcomes = [store.outcome_of(row) for row in rows]
        if self.publish_many is not None:
            await self.publish_many(outcomes)
        elif self.publish is not None:
            for outcome in outcomes:
                await self.publish(outcome)
        return outcomes
