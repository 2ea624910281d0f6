"""Every stage as N replica processes, and the disruptions a production fleet lives through.

A deploy is not a kill -9: it stops each replica gracefully and starts the new one, one after the
other (rolling restart); autoscaling adds a replica and later takes one away (scale up / down).
Each of these moves partitions between the replicas of a consumer group while work is in flight,
which is what the "exactly one outcome" invariants are about. ``disrupt`` draws a mix of them
(kill -9 stays the most common) on a random schedule and records what it did.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from bench.chaos.broker import RestartableBroker
from bench.chaos.procs import StageProcess

KINDS = ("kill -9", "rolling restart", "scale up", "scale down")
WEIGHTS = (0.5, 0.2, 0.15, 0.15)


class Fleet:
    """stage -> its live replicas; ``replicas`` is the size a stage returns to, ``ceiling`` the most it grows."""

    def __init__(self, stages: tuple[str, ...], replicas: int, env: dict[str, str], log_dir: Path) -> None:
        self.env, self.log_dir, self.replicas = env, log_dir, replicas
        self.procs: dict[str, list[StageProcess]] = {s: [] for s in stages}
        self.next_replica: Counter[str] = Counter()
        self.done: Counter[str] = Counter()
        self.stopped: list[StageProcess] = []  # scaled down: kept only to find their logs

    def all(self) -> list[StageProcess]:
        return [p for procs in self.procs.values() for p in procs]

    def add(self, stage: str) -> StageProcess:
        proc = StageProcess(stage, self.env, self.log_dir, replica=self.next_replica[stage])
        self.next_replica[stage] += 1
        self.procs[stage].append(proc)
        proc.start()
        return proc

    async def start(self) -> None:
        for stage in self.procs:
            for _ in range(self.replicas):
                self.add(stage)
        await wait_ready(self.all())

    def revive(self) -> None:
        """A replica that died on its own (not one we stopped) is restarted, and noted."""
        for proc in self.all():
            if not proc.alive():
                print(f"  {proc.name} exited by itself (rc {proc.process and proc.process.returncode}); "
                      "restarting", flush=True)
                proc.start()

    async def stop_all(self) -> None:
        await asyncio.gather(*(asyncio.to_thread(p.stop) for p in self.all()))

    # -- the disruptions -------------------------------------------------------------------------

    def kill9(self, rng: random.Random) -> str:
        victim = rng.choice(self.all())
        victim.kill9()
        victim.start()
        return victim.name

    async def rolling_restart(self, stage: str) -> str:
        for proc in list(self.procs[stage]):
            await asyncio.to_thread(proc.stop)
            proc.start()
            await wait_ready([proc])
        return f"{stage} x{len(self.procs[stage])}"

    async def scale_up(self, stage: str) -> str:
        proc = self.add(stage)
        await wait_ready([proc])
        return proc.name

    async def scale_down(self, stage: str) -> str:
        proc = self.procs[stage].pop()
        await asyncio.to_thread(proc.stop)
        self.stopped.append(proc)
        return proc.name

    async def one(self, rng: random.Random, kind: str) -> tuple[str, str]:
        # a stage grows by one replica at most and shrinks by one at most (never to zero)
        can_grow = sorted(s for s, p in self.procs.items() if len(p) <= self.replicas)
        can_shrink = sorted(s for s, p in self.procs.items() if len(p) > max(1, self.replicas - 1))
        if kind == "scale up" and not can_grow:
            kind = "scale down"
        if kind == "scale down" and not can_shrink:
            kind = "scale up"
        stage = rng.choice({"scale up": can_grow, "scale down": can_shrink}.get(kind, sorted(self.procs)))
        if kind == "kill -9":
            what = self.kill9(rng)
        elif kind == "rolling restart":
            what = await self.rolling_restart(stage)
        elif kind == "scale up":
            what = await self.scale_up(stage)
        else:
            what = await self.scale_down(stage)
        self.done[kind] += 1
        return kind, what

    async def restore(self) -> None:
        """Back to ``replicas`` per stage, so the drain runs on the fleet the run started with."""
        for stage, procs in self.procs.items():
            while len(procs) > self.replicas:
                await self.scale_down(stage)
            while len(procs) < self.replicas:
                await self.scale_up(stage)


def plan(count: int, rng: random.Random, broker: bool) -> list[str]:
    """``count`` disruption kinds: each kind at least once when there is room, the rest drawn by weight;
    with a restartable broker, the second restarts the broker - early, while the workload and the
    HTTP feed are still flowing, so producers and the ingress meet the broker away (503s)."""
    slots = count - 1 if broker and count else count
    kinds = list(KINDS[:slots]) + rng.choices(KINDS, WEIGHTS, k=max(0, slots - len(KINDS)))
    rng.shuffle(kinds)
    if broker and count:
        kinds.insert(min(1, count - 1), "broker restart")
    return kinds


async def disrupt(fleet: Fleet, count: int, gap: tuple[float, float], rng: random.Random,
                  broker: RestartableBroker | None = None,
                  while_down: Callable[[], Awaitable[str]] | None = None) -> None:
    """Run the planned disruptions; during the broker restart, ``while_down`` runs with the broker away
    (it returns a note for the log) and the broker comes back when it returns."""
    for n, planned in enumerate(plan(count, rng, broker is not None), start=1):
        await asyncio.sleep(rng.uniform(*gap))
        fleet.revive()  # as an orchestrator would: a replica that exited (say, broker away at start) comes back
        started = time.monotonic()
        if broker is not None and planned == "broker restart":
            await asyncio.to_thread(broker.down)
            note = ""
            try:
                if while_down is not None:
                    note = f"; while away: {await while_down()}"
            finally:
                await asyncio.to_thread(broker.up)
            fleet.done["broker restart"] += 1
            kind, what = "broker restart", broker.bootstrap_servers + note
        else:
            kind, what = await fleet.one(rng, planned)
        print(f"  {kind} {what} (#{n}, {time.monotonic() - started:.1f}s)", flush=True)
    await fleet.restore()


async def wait_ready(procs: list[StageProcess], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2) as client:
        for proc in procs:
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"http://127.0.0.1:{proc.port}/readyz")).status_code == 200:
                        break
                if not proc.alive():
                    raise RuntimeError(f"{proc.name} exited at start; see {proc.log_path}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{proc.name} not ready after {timeout:.0f}s")
                await asyncio.sleep(0.5)
