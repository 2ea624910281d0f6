"""Clocks: manual time for tests and replay, scaled time for the dev stack."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from streams.core.clock import ManualClock, ScaledClock, WallClock


def test_manual_clock_only_moves_forward_with_events() -> None:
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    clock.observe(datetime(2026, 1, 2, tzinfo=UTC))
    clock.observe(datetime(2026, 1, 1, 12, tzinfo=UTC))  # a late event does not rewind time
    assert clock.now() == datetime(2026, 1, 2, tzinfo=UTC)


async def test_manual_sleep_advances_time_without_waiting() -> None:
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    started = time.monotonic()
    await clock.sleep(3600)
    assert clock.now() == datetime(2026, 1, 1, 1, tzinfo=UTC)
    assert time.monotonic() - started < 0.5


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        ManualClock(datetime(2026, 1, 1))


async def test_scaled_clock_runs_an_hour_in_a_fraction_of_a_second() -> None:
    clock = ScaledClock(scale=36_000, origin=datetime(2026, 1, 1, tzinfo=UTC))
    started = time.monotonic()
    await clock.sleep(3600)  # one simulated hour = 0.1 s
    elapsed = time.monotonic() - started
    assert 0.09 <= elapsed < 0.5
    assert clock.now() - datetime(2026, 1, 1, tzinfo=UTC) >= timedelta(hours=1)


def test_wall_clock_is_aware() -> None:
    assert WallClock().now().tzinfo is not None
