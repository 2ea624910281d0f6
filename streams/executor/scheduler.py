"""Per-campaign queues: in order within a key, concurrent across keys, superseding, jittered.

Each key (``tenant:group`` - one allocation group, hence one writer for all of its entities)
has a FIFO queue worked by its own task, so a request waiting out its jitter or a Meta backoff
holds up only its own campaign. Jitter is scheduled per request from its arrival (``due``), so
the jitters of queued requests elapse concurrently rather than adding up.

A newer request for an entity marks any older request for that entity still waiting in the
queue as superseded (and wakes it from its jitter): the older one is then recorded as
superseded instead of being executed. A request already executing is never interrupted. A
person's verdict on a waiting change (a review) queues with its group's requests, in order, and
supersedes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from schemas.events import BudgetChangeRequested, BudgetChangeReviewed
from streams.core.clock import Clock

Work = BudgetChangeRequested | BudgetChangeReviewed


@dataclass(eq=False)
class Job:
    request: Work
    received_at: datetime
    due: datetime
    partition: Any = None
    offset: int | None = None
    superseded_by: str | None = None
    fence: Any = None
    """The owner epoch its record was read under (:class:`~streams.executor.fencing.Fence`)."""
    fenced: bool = False
    """Refused at the Meta call: the partition moved, so its offset must never be committed here."""
    started: bool = False
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def supersede(self, change_id: str) -> None:
        self.superseded_by = change_id
        self.wake.set()


RunMany = Callable[[list[Job]], Awaitable[int]]
"""Runs a key's due requests in order; returns how many of them (a prefix) finished."""


class KeyedScheduler:
    """Runs ``run(job)`` for each submitted job; calls ``on_done(job)`` when it finished.

    With ``run_many``, a key's worker hands over, once its first job is due, every request queued
    behind it that is due too (up to ``max_batch``), in order; the jobs ``run_many`` did not
    finish stay queued, as if never started, and are handed over again.
    """

    def __init__(self, run: Callable[[Job], Awaitable[None]], clock: Clock,
                 on_done: Callable[[Job], None] = lambda _: None, *, run_many: RunMany | None = None,
                 max_batch: int = 500) -> None:
        self._run = run
        self._clock = clock
        self._on_done = on_done
        self._run_many = run_many
        self._max_batch = max_batch
        self._queues: dict[str, deque[Job]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._partition_of: dict[str, Any] = {}
        self.size = 0

    def submit(self, key: str, job: Job) -> None:
        queue = self._queues.setdefault(key, deque())
        entity = (job.request.tenant_id, job.request.entity_id)
        for older in queue if isinstance(job.request, BudgetChangeRequested) else ():
            if not older.started and older.superseded_by is None and isinstance(older.request, BudgetChangeRequested) \
                    and (older.request.tenant_id, older.request.entity_id) == entity \
                    and older.request.change_id != job.request.change_id:
                older.supersede(job.request.change_id)
        queue.append(job)
        self.size += 1
        self._partition_of[key] = job.partition
        if key not in self._workers:
            self._workers[key] = asyncio.create_task(self._work(key), name=f"executor:{key}")

    async def _work(self, key: str) -> None:
        queue = self._queues[key]
        try:
            while queue:
                job = queue[0]
                await self._wait_until_due(job)
                finished = await self._run_due(queue)
                for _ in range(finished):
                    self.size -= 1
                    self._on_done(queue.popleft())
        finally:
            if self._workers.get(key) is asyncio.current_task():
                del self._workers[key]
                if not queue:
                    self._queues.pop(key, None)
                    self._partition_of.pop(key, None)

    async def _run_due(self, queue: deque[Job]) -> int:
        """Run the due head of ``queue`` (one job, or with ``run_many`` its due requests); how many finished."""
        head = queue[0]
        if self._run_many is None or not isinstance(head.request, BudgetChangeRequested):
            head.started = True
            await self._run(head)
            return 1
        now = self._clock.now()
        jobs: list[Job] = []
        for job in queue:
            due = job.due <= now or job.superseded_by is not None or not jobs
            if len(jobs) >= self._max_batch or not due or not isinstance(job.request, BudgetChangeRequested):
                break
            job.started = True
            jobs.append(job)
        finished = await self._run_many(jobs)
        for job in jobs[finished:]:
            job.started = False  # handed back untouched: a newer request may still supersede it
        return finished

    async def _wait_until_due(self, job: Job) -> None:
        wait = (job.due - self._clock.now()).total_seconds()
        if wait <= 0 or job.superseded_by is not None:
            return
        sleeper = asyncio.ensure_future(self._clock.sleep(wait))
        waker = asyncio.ensure_future(job.wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, waker):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def drop(self, partitions: set[Any] | None = None) -> int:
        """Abandon queued and running work of ``partitions`` (all when None); returns how many jobs."""
        keys = [k for k, p in self._partition_of.items() if partitions is None or p in partitions]
        dropped = 0
        for key in keys:
            task = self._workers.pop(key, None)
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            queue = self._queues.pop(key, deque())
            self._partition_of.pop(key, None)
            dropped += len(queue)
        self.size -= dropped
        return dropped

    async def idle(self) -> None:
        """Wait until every queue is empty (tests, benchmarks, graceful drain)."""
        while self._workers:
            await asyncio.gather(*list(self._workers.values()), return_exceptions=True)
