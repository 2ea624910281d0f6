"""Progress of a long replay on stderr: events read, rate and ETA, at most once a second.

Only the human watching a terminal needs this, so it goes to stderr and never into ``--json``.
The total is the number of records between the seek positions and the end offsets captured at
start: an upper bound, since a partition may stop early once its timestamps pass ``--to``.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, stream: TextIO | None = None, every_seconds: float = 1.0,
                 enabled: bool = True) -> None:
        self.stream = stream or sys.stderr
        self.every = every_seconds
        self.enabled = enabled
        self.total: int | None = None
        self.scanned = 0
        self.kept = 0
        self._started = time.monotonic()
        self._last = self._started

    def tick(self, scanned: int, kept: int) -> None:
        self.scanned += scanned
        self.kept += kept
        now = time.monotonic()
        if self.enabled and now - self._last >= self.every:
            self._last = now
            self.stream.write(self.line(now) + "\n")
            self.stream.flush()

    def line(self, now: float | None = None) -> str:
        elapsed = max((now or time.monotonic()) - self._started, 1e-9)
        rate = self.scanned / elapsed
        text = f"replay: {self.scanned:,} records read, {self.kept:,} in range, {rate:,.0f}/s"
        if self.total:
            left = max(self.total - self.scanned, 0)
            eta = left / rate if rate > 0 else float("inf")
            text += f", {100 * self.scanned / self.total:.0f}% of {self.total:,}, ETA {eta:,.0f}s"
        return text

    def done(self) -> None:
        if self.enabled:
            self.stream.write(self.line() + " - done\n")
            self.stream.flush()
