"""``roasloop dev --fault KIND@START+LENGTH``: break something on schedule, and watch the alerts arrive.

Kinds:

- ``meta-throttle``: the Meta stand-in answers every call with throttling (code 17) - the executor
  backs off, changes fail, and ``meta_trouble`` / ``change_failures`` fire at the local sinks;
- ``meta-timeout``: the Meta stand-in holds every answer longer than the executor waits - intents
  stay ``executing`` and ``intent_stuck`` fires;
- ``stall:GROUP``: the stage consuming in consumer group GROUP (``revenue``, ``sampler``,
  ``executor`` ...) stops fetching while staying in its group, as a stuck handler would - its lag
  grows and ``consumer_lag`` fires; it resumes afterwards and the alert resolves.

``START`` and ``LENGTH`` are wall seconds from the start of the run.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from typing import Any

from streams.core.lag import consumers
from streams.core.naming import group_name
from streams.core.stage import StageRunner

KINDS = ("meta-throttle", "meta-timeout", "stall")


@dataclass(frozen=True)
class Fault:
    kind: str
    target: str
    start_s: float
    length_s: float


def parse_fault(spec: str) -> Fault:
    """``meta-throttle@20+30`` or ``stall:revenue@10+40``; ValueError with what is expected."""
    what, _, when = spec.partition("@")
    start, _, length = when.partition("+")
    kind, _, target = what.partition(":")
    try:
        fault = Fault(kind, target, float(start), float(length))
    except ValueError:
        raise ValueError(f"--fault {spec!r}: expected KIND@START+LENGTH, e.g. meta-throttle@20+30") from None
    if kind not in KINDS or (kind == "stall") != bool(target) or fault.start_s < 0 or fault.length_s <= 0:
        raise ValueError(f"--fault {spec!r}: kinds are meta-throttle, meta-timeout, stall:GROUP")
    return fault


def _stall(runner: StageRunner, group: str, stalled: bool) -> int:
    wanted = group_name(runner.settings, group)
    found = 0
    for name, consumer in consumers(runner.resources.broker):
        if name == wanted:
            partitions = list(consumer.assignment())
            (consumer.pause if stalled else consumer.resume)(*partitions)
            found += 1
    return found


def _apply(fault: Fault, on: bool, sandbox: Any, runner: StageRunner) -> None:
    meta = sandbox.meta.faults
    if fault.kind == "meta-throttle":
        meta.set_rate("throttle_17", 1.0 if on else 0.0)
    elif fault.kind == "meta-timeout":
        meta.timeout_seconds = 15.0
        meta.set_rate("timeout", 1.0 if on else 0.0)
    elif _stall(runner, fault.target, on) == 0:
        print(f"roasloop dev: --fault stall:{fault.target}: no consumer group {fault.target!r} here", file=sys.stderr)
        return
    print(f"roasloop dev: fault {fault.kind}{':' + fault.target if fault.target else ''} "
          f"{'on' if on else 'off'}", file=sys.stderr)


async def inject(faults: list[Fault], sandbox: Any, runner: StageRunner) -> None:
    """Switch each fault on at its start and off after its length (all on one timeline)."""
    events = sorted([(f.start_s, True, f) for f in faults] + [(f.start_s + f.length_s, False, f) for f in faults],
                    key=lambda e: e[0])
    elapsed = 0.0
    for at, on, fault in events:
        await asyncio.sleep(max(0.0, at - elapsed))
        elapsed = at
        _apply(fault, on, sandbox, runner)
