"""From ``budget.requests.v1`` records to scheduled jobs, with commits that never skip work.

Why a FastStream subscriber with ``AckPolicy.MANUAL`` and our own commits, rather than the
default per-message commit or a raw aiokafka consumer: the handler only *schedules* a request
(the campaign's queue runs it later, after its jitter), so FastStream's commit-after-return
would commit requests that have not run. With MANUAL, FastStream never commits; we commit,
from :class:`OffsetTracker`, the lowest offset still in flight per partition. Staying on the
FastStream subscriber keeps the shared broker connection, the dead-letter middleware for
undecodable requests, ``faststream run`` and the runner's health checks.

Rebalances: on revoke we commit what is finished, drop the revoked partitions' queued and
running work, and give Meta calls already under way a short grace to settle; the new owner
(maybe us again) resumes from the committed offset and redoes the rest. Every assignment claims
a new owner epoch per partition (:mod:`.fencing`) and every job carries its epoch, so a job that
outlives its partition here is refused before it can call Meta; an intent that was never sent is
decided again by the new owner, one that was sent is reconciled, never re-sent. Guardrail state
needs no rebuilding in memory: each evaluation reads the audit trail, so it is current whoever
owned the partition before.

Foreign producers: a record whose key does not hash (murmur2) to the partition it arrived on is
not scheduled here - another instance owns its group, and two owners would race its guardrails.
It is re-published to its partition (:func:`streams.core.copartition.misplaced`, the sampler's
rule and metric) and its offset is let go only once the broker acknowledged the copy; the owner
applies it, and a copy published twice (a crash before the commit) is one ``change_id``, one outcome.

Batches: the subscriber hands over fetched batches (:meth:`RequestConsumer.on_records`); each
campaign's queue hands its due requests to a group commit (:mod:`.coalesce`), which decides the
queues' requests together (:mod:`.batch`). Offsets are still tracked per record, so a commit
never passes a request whose outcome is not recorded and published.

Backpressure: when ``max_in_flight`` requests are held, the handler waits, which stops the
subscriber fetching more.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import structlog
from aiokafka import ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import IllegalStateError, KafkaError
from faststream.kafka import KafkaMessage

from schemas.envelope import Envelope
from schemas.events import BudgetChangeRequested, BudgetChangeReviewed
from schemas.topics import by_group, topic_for
from streams.core.clock import Clock
from streams.core.copartition import misplaced
from streams.core.dlq import POISON, classify
from streams.core.errors import TransientError
from streams.core.partitions import group_partition
from streams.core.stage import decode_event
from streams.executor import approvals
from streams.executor.batch import GroupResult, Item, settle_batch
from streams.executor.coalesce import Coalescer
from streams.executor.executor import Executor
from streams.executor.fencing import Fence, Fenced, claim, instance_id
from streams.executor.offsets import OffsetTracker
from streams.executor.scheduler import Job, KeyedScheduler
from streams.executor.settings import ExecutorSettings

log = structlog.get_logger("roasloop.executor")

Jitter = Callable[[BudgetChangeRequested], float]
Move = Callable[[Envelope], Awaitable[None]]
"""Publishes an event to its catalog topic by its key, returning once the broker acknowledged it."""
DeadLetter = Callable[[Any, BaseException, int], Awaitable[None]]
MAX_UNKNOWN_ATTEMPTS = 5
WORK = (BudgetChangeRequested, BudgetChangeReviewed)


def uniform_jitter(settings: ExecutorSettings) -> Jitter:
    low, high = settings.jitter_min_seconds, settings.jitter_max_seconds
    rng = random.SystemRandom()
    return lambda _request: rng.uniform(low, high) if high > 0 else 0.0


class RequestConsumer(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, executor: Executor, clock: Clock, settings: ExecutorSettings,
                 jitter: Jitter | None = None, move: Move | None = None) -> None:
        self.executor = executor
        self.move = move
        """Where misplaced records are re-published; None only for stand-in records that carry no partitioning."""
        self.clock = clock
        self.settings = settings
        self.jitter = jitter or uniform_jitter(settings)
        self.tracker: OffsetTracker[TopicPartition] = OffsetTracker()
        self.batches: Coalescer[list[Item], GroupResult] = Coalescer(self._settle, settings.batch_max_requests)
        # a stand-in executor (tests of intake and rebalances) runs one request at a time
        run_many = self._run_many if isinstance(executor, Executor) else None
        self.scheduler = KeyedScheduler(self._run, clock, self._done, run_many=run_many,
                                        max_batch=settings.batch_max_requests)
        self.consumer: Any = None
        self.owner = instance_id()
        self.epochs: dict[TopicPartition, int] = {}
        """The owner epoch this instance claimed for each partition it holds."""
        self.assigned: set[int] = set()
        """Partition numbers of the group-keyed topics this instance owns (requests and reviews alike)."""
        self._space = asyncio.Event()
        self._space.set()

    # -- intake -----------------------------------------------------------------------------
    async def on_message(self, msg: KafkaMessage) -> None:
        """One record (a poison one raises, for the dead-letter middleware)."""
        self.consumer = msg.consumer
        request = await self._intake(msg.raw_message, msg.body)
        if isinstance(request, Exception):
            raise request

    async def on_records(self, records: list[Any], consumer: Any, dead_letter: DeadLetter) -> None:
        """A fetched batch, record by record in offset order; a poison record goes alone to the
        dead-letter topic (it is done at once, so it never holds a commit back) and its
        neighbours are scheduled as usual. Why batches: per record, FastStream's dispatch cost
        more than deciding the request."""
        self.consumer = consumer
        for record in records:
            problem = await self._intake(record, record.value or b"")
            if isinstance(problem, POISON):
                await dead_letter(record, problem, 1)
            elif problem is not None:
                raise problem  # not the record's fault: the batch is retried (its effects are idempotent)

    async def _intake(self, record: Any, body: bytes) -> Exception | None:
        """Track and schedule one record; returns the decoding error of a poison record."""
        tp = TopicPartition(record.topic, record.partition)
        while self.scheduler.size >= self.settings.max_in_flight:
            self._space.clear()
            await self._space.wait()
        assignment = self.consumer.assignment() if hasattr(self.consumer, "assignment") else {tp}
        if tp not in assignment:
            return None  # revoked while this record was in hand: its new owner will read it
        self.tracker.track(tp, record.offset)
        try:
            request = decode_event(body, WORK)
        except Exception as exc:
            self.tracker.done(tp, record.offset)  # dead-lettered: nothing in flight
            return exc
        assert isinstance(request, BudgetChangeRequested | BudgetChangeReviewed)
        if self.move is not None and misplaced(topic_for(request).name, tp.partition, record.offset, request):
            await self._move_to_owner(request, tp, record.offset)
            return None
        if tp not in self.epochs:  # a record of a partition whose assignment we were not told of
            await self._claim({tp})
        self.schedule(request, tp, record.offset, record.key.decode() if record.key else None)
        return None

    async def _move_to_owner(self, request: BudgetChangeRequested | BudgetChangeReviewed, tp: TopicPartition,
                             offset: int) -> None:
        """Re-publish a misplaced record until the broker acks it; only then may its offset be committed.

        Retried here rather than raised: the dead-letter middleware would take a broker hiccup for
        poison. If the partition is revoked meanwhile, its offset was forgotten uncommitted and the
        next reader moves the record instead.
        """
        assert self.move is not None
        attempt = 0
        while True:
            try:
                await self.move(request)
                break
            except Exception as exc:
                attempt += 1
                assignment = self.consumer.assignment() if hasattr(self.consumer, "assignment") else {tp}
                if tp not in assignment:
                    return
                delay = min(30.0, 0.2 * 2 ** min(attempt, 8))
                log.warning("misplaced_move_retry", change_id=request.change_id, attempt=attempt, delay_s=delay,
                            error=str(exc)[:300])
                await asyncio.sleep(delay)
        self.tracker.done(tp, offset)

    def schedule(self, request: BudgetChangeRequested | BudgetChangeReviewed, tp: TopicPartition, offset: int,
                 key: str | None = None) -> Job:
        """Queue a decoded record, fenced by the epoch under which its partition is held now."""
        self.tracker.track(tp, offset)
        now = self.clock.now()
        # a person's verdict is applied at once; requests wait out a jitter so they reach Meta apart
        jitter = self.jitter(request) if isinstance(request, BudgetChangeRequested) else 0.0
        due = now + timedelta(seconds=max(0.0, jitter))
        epoch = self.epochs.get(tp)
        fence = Fence(tp.topic, tp.partition, epoch) if epoch is not None else None
        job = Job(request, received_at=now, due=due, partition=tp, offset=offset, fence=fence)
        self.scheduler.submit(key or by_group(request), job)
        return job

    async def _run(self, job: Job) -> None:
        """Execute until settled: transient trouble is retried (the partition waits), bugs a few times."""
        attempt = 0
        while True:
            try:
                if isinstance(job.request, BudgetChangeReviewed):
                    await approvals.review(self.executor, job.request, job.fence)
                else:
                    await self.executor.execute(job.request, received_at=job.received_at,
                                                superseded_by=job.superseded_by, fence=job.fence)
                return
            except Fenced:  # logged where refused; the partition's owner runs the record
                job.fenced = True
                return
            except Exception as exc:
                attempt += 1
                kind = classify(exc)
                if kind != "transient" and attempt >= MAX_UNKNOWN_ATTEMPTS:
                    log.error("request_abandoned", change_id=job.request.change_id, error=str(exc)[:500],
                              error_type=type(exc).__name__)
                    await self._abandon(job, exc, attempt)
                    return
                retry_after = exc.retry_after if isinstance(exc, TransientError) else None
                delay = min(60.0, retry_after or 0.2 * 2 ** min(attempt, 8))
                log.warning("request_retry", change_id=job.request.change_id, kind=kind, attempt=attempt,
                            delay_s=delay, error=str(exc)[:300])
                await asyncio.sleep(delay)

    async def _run_many(self, jobs: list[Job]) -> int:
        """A campaign's due requests through the batch (:mod:`.batch`); what it leaves to the
        one-request path runs here, so the campaign's order holds. Returns how many finished."""
        result = await self.batches.submit([Item(j.request, j.received_at, j.superseded_by)  # type: ignore[arg-type]
                                            for j in jobs])
        finished = result.done
        if finished < len(jobs) and result.intent is not None:
            await self._send(jobs[finished])
            finished += 1
        elif finished < len(jobs) and result.single:
            await self._run(jobs[finished])
            finished += 1
        return finished

    async def _settle(self, groups: list[list[Item]]) -> list[GroupResult]:
        try:
            return await settle_batch(self.executor, groups)
        except Exception as exc:  # each campaign's next request retries alone, as it always could
            log.warning("batch_failed", requests=sum(map(len, groups)), error=str(exc)[:300],
                        error_type=type(exc).__name__)
            return [GroupResult(single=True) for _ in groups]

    async def _send(self, job: Job) -> None:
        """Send an intent the batch decided; on trouble the one-request path settles it (it finds
        the intent: re-decided if never sent, reconciled if sent)."""
        assert isinstance(job.request, BudgetChangeRequested)
        try:
            await self.executor.send_intent(job.request, job.fence)
        except Fenced:  # logged where refused; the partition's owner runs the record
            job.fenced = True
        except Exception as exc:
            log.warning("intent_send_retry", change_id=job.request.change_id, error=str(exc)[:300])
            await self._run(job)

    async def _abandon(self, job: Job, exc: Exception, attempts: int) -> None:
        """Give an abandoned request its one outcome: ``failed``, naming the error (a review's
        change keeps waiting for its expiry, which is its outcome)."""
        if not isinstance(job.request, BudgetChangeRequested):
            return
        error = f"abandoned after {attempts} attempts: {type(exc).__name__}: {str(exc)[:300]}"
        try:
            await self.executor.abandon(job.request, error)
        except Exception:
            log.exception("request_abandon_unrecorded", change_id=job.request.change_id)

    def _done(self, job: Job) -> None:
        if job.partition is not None and job.offset is not None and not job.fenced:
            self.tracker.done(job.partition, job.offset)
        if self.scheduler.size < self.settings.max_in_flight:
            self._space.set()

    # -- commits ----------------------------------------------------------------------------
    async def commit(self, only: set[TopicPartition] | None = None) -> None:
        if self.consumer is None or not hasattr(self.consumer, "commit"):
            return
        ready = {tp: pos for tp, pos in self.tracker.committable().items() if only is None or tp in only}
        if not ready:
            return
        try:
            await self.consumer.commit(ready)
        except (KafkaError, IllegalStateError) as exc:
            log.warning("commit_failed", error=str(exc)[:300], partitions=len(ready))
            return
        for tp, pos in ready.items():
            self.tracker.mark_committed(tp, pos)

    async def commit_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.commit_interval_seconds)
            await self.commit()

    # -- changes waiting for a person -------------------------------------------------------
    def owns(self, tenant_id: str, group_id: str) -> bool:
        return group_partition(tenant_id, group_id) in self.assigned

    async def expiry_loop(self) -> None:
        """Expire the owned groups' changes that waited too long for a person (wall-time cadence)."""
        while True:
            await asyncio.sleep(self.settings.approval_sweep_seconds)
            try:
                await approvals.expire_due(self.executor, self.owns)
            except Exception:
                log.exception("approval_expiry_failed")

    # -- rebalances -------------------------------------------------------------------------
    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        if not revoked:
            return
        await self.commit(only=set(revoked))
        self.assigned -= {tp.partition for tp in revoked}
        for tp in revoked:
            self.epochs.pop(tp, None)
        dropped = await self.scheduler.drop(set(revoked))
        self.tracker.forget(revoked)
        self._space.set()
        sending = set(self.executor.sending)
        if sending:  # a call under way settles its row before the new owner looks, within a grace
            await asyncio.wait(sending, timeout=self.settings.revoke_grace_seconds)
        log.info("partitions_revoked", partitions=len(revoked), dropped_in_flight=dropped,
                 meta_calls_waited=len(sending))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self._claim(set(assigned))
        self.assigned |= {tp.partition for tp in assigned}
        log.info("partitions_assigned", partitions=len(assigned),
                 epochs={f"{tp.topic}[{tp.partition}]": self.epochs[tp] for tp in assigned})

    async def _claim(self, partitions: set[TopicPartition]) -> None:
        now = self.clock.now()
        async with self.executor.pool.acquire() as conn, conn.transaction():
            for tp in sorted(partitions, key=lambda p: (p.topic, p.partition)):  # one lock order
                self.epochs[tp] = await claim(conn, tp.topic, tp.partition, self.owner, now)
