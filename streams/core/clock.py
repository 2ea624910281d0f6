"""Time as the processors see it.

Stages never call ``datetime.now()``: they take a :class:`Clock`. Live, that is the wall clock;
in a replay or a test it is a clock that moves with the events (or by hand), so a backtest
makes the same decisions the live system would have made at those moments.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class WallClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class ManualClock:
    """A clock that only moves when told to: ``advance`` or ``observe`` an event time.

    ``sleep`` returns at once after advancing the clock, so code that waits (jitter, backoff)
    runs instantly in replays and tests while still seeing time pass.
    """

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime(2026, 1, 1, tzinfo=UTC)
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("clock time must be timezone-aware")
        self._now = moment

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)

    def observe(self, event_time: datetime) -> None:
        """Move forward to an event's time (never backward: late events don't rewind time)."""
        if event_time > self._now:
            self._now = event_time

    async def sleep(self, seconds: float) -> None:
        self.advance(seconds)
        await asyncio.sleep(0)


EventClock = ManualClock  # replay: the clock follows the events it is shown via observe()


class ScaledClock:
    """Wall time sped up by ``scale`` from ``origin``: a simulated day can pass in seconds.

    ``roasloop dev`` runs the whole stack on one of these, so guardrails measured in hours
    (4 changes per ad set per hour, 20% per 6 hours) and attribution windows in days keep their
    meaning while the market plays a day every few seconds.
    """

    def __init__(self, scale: float, origin: datetime | None = None) -> None:
        if scale <= 0:
            raise ValueError("scale must be positive")
        import time

        self.scale = scale
        self._monotonic = time.monotonic
        self._t0 = time.monotonic()
        self.origin = origin or datetime.now(UTC)
        if self.origin.tzinfo is None:
            raise ValueError("ScaledClock needs an aware origin")

    def now(self) -> datetime:
        return self.origin + timedelta(seconds=(self._monotonic() - self._t0) * self.scale)

    def wall_seconds(self, simulated_seconds: float) -> float:
        return simulated_seconds / self.scale

    def rebase(self, origin: datetime) -> None:
        """Make ``now()`` equal ``origin`` at this moment (before anything has used the clock for real)."""
        if origin.tzinfo is None:
            raise ValueError("ScaledClock needs an aware origin")
        self._t0 = self._monotonic()
        self.origin = origin

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.scale)
