"""Commit positions when requests of one partition finish out of order."""

from __future__ import annotations

from streams.executor.offsets import OffsetTracker


def test_commit_stops_at_the_lowest_offset_still_in_flight() -> None:
    tracker: OffsetTracker[str] = OffsetTracker()
    for offset in (5, 6, 7):
        tracker.track("p0", offset)
    tracker.done("p0", 6)
    tracker.done("p0", 7)
    assert tracker.committable() == {"p0": 5}
    tracker.done("p0", 5)
    assert tracker.committable() == {"p0": 8}


def test_only_positions_that_moved_are_reported() -> None:
    tracker: OffsetTracker[str] = OffsetTracker()
    tracker.track("p0", 0)
    tracker.track("p1", 0)
    tracker.done("p0", 0)
    tracker.mark_committed("p0", 1)
    tracker.mark_committed("p1", 0)
    assert tracker.committable() == {}
    tracker.done("p1", 0)
    assert tracker.committable() == {"p1": 1}


def test_a_forgotten_partition_reports_nothing() -> None:
    tracker: OffsetTracker[str] = OffsetTracker()
    tracker.track("p0", 3)
    tracker.forget({"p0"})
    assert tracker.committable() == {} and tracker.in_flight("p0") == 0


def test_tracking_the_same_offset_twice_needs_one_done() -> None:
    tracker: OffsetTracker[str] = OffsetTracker()
    tracker.track("p0", 1)
    tracker.track("p0", 1)
    tracker.done("p0", 1)
    assert tracker.committable() == {"p0": 2}
