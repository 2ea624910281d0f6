"""Group commit: calls made from many tasks while a batch runs are merged into the next batch.

Why: every campaign has its own queue task (:mod:`.scheduler`), so per-campaign order costs
nothing, but each task deciding on its own paid a transaction and a publish per request. The
tasks hand their due requests here instead; while one batch is being decided and written, the
next one gathers, so the batch size follows the load - one request alone when the stage is
idle (no linger), hundreds under a burst - with no timer to tune.

A caller that is cancelled while it waits (its partition was revoked) simply stops waiting:
its batch, once started, finishes and settles its requests, as a single request that had
reached its transaction would.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sized
from typing import Generic, TypeVar

T = TypeVar("T", bound=Sized)
R = TypeVar("R")


class Coalescer(Generic[T, R]):
    """``submit(item)`` returns ``run_batch(items)[i]`` for its item, batches up to ``max_size`` in all
    (by ``len`` of the items; one item larger than that goes alone)."""

    def __init__(self, run_batch: Callable[[list[T]], Awaitable[list[R]]], max_size: int) -> None:
        self._run_batch = run_batch
        self._max_size = max_size
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name="executor-batches")
        return await future

    def _take(self) -> list[tuple[T, asyncio.Future[R]]]:
        size = count = 0
        for item, _ in self._pending:
            if count and size + len(item) > self._max_size:
                break
            size, count = size + len(item), count + 1
        batch, self._pending = self._pending[:count], self._pending[count:]
        return [(item, future) for item, future in batch if not future.done()]  # cancelled callers drop out

    async def _drain(self) -> None:
        while self._pending:
            batch = self._take()
            if not batch:
                continue
            try:
                results = await self._run_batch([item for item, _ in batch])
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)

    async def close(self) -> None:
        """Stop batching (the stage stops): a batch under way is cancelled, its transaction rolled back."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for _, future in self._pending:
            future.cancel()
        self._pending = []
