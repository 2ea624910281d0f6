"""Switchable failures for the Meta stand-in, so executor retries meet every way Meta breaks.

Queue faults for the next calls (``fail_next``) or give a kind a probability (``set_rate``).
A ``timeout`` fault holds the response longer than any sane client waits; with
``apply_effect=True`` the budget change still lands before the client gives up, the case that
makes a naive retry apply a change twice.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

from streams.lab.sandbox.meta_errors import (
    MetaApiError,
    account_rate_limit,
    bad_token,
    buc_rate_limit,
    service_unavailable,
    unknown_error,
    user_request_limit,
)

FaultKind = Literal["http_500", "http_503", "timeout", "throttle_17", "throttle_613", "throttle_80004", "bad_token"]
Method = Literal["GET", "POST"]


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    apply_effect: bool = False  # the write still happens (timeouts, or a 5xx after commit)
    method: Method | None = None  # only calls with this method take the fault
    retry_after_seconds: int = 60

    def error(self) -> MetaApiError | None:
        """The error this fault answers with (``None`` for a timeout, which answers late)."""
        k = self.kind
        if k == "http_500":
            return unknown_error()
        if k == "http_503":
            return service_unavailable()
        if k == "throttle_17":
            return user_request_limit(self.retry_after_seconds)
        if k == "throttle_613":
            return account_rate_limit(self.retry_after_seconds)
        if k == "throttle_80004":
            return buc_rate_limit(self.retry_after_seconds)
        if k == "bad_token":
            return bad_token()
        return None


@dataclass
class MetaFaults:
    timeout_seconds: float = 30.0
    seed: int = 0
    injected: list[tuple[FaultKind, str, str]] = field(default_factory=list)  # (kind, method, path)
    _queue: deque[Fault] = field(default_factory=deque)
    _rates: dict[FaultKind, tuple[float, bool]] = field(default_factory=dict)
    _rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def fail_next(
        self,
        kind: FaultKind,
        count: int = 1,
        *,
        apply_effect: bool = False,
        method: Method | None = None,
        retry_after_seconds: int = 60,
    ) -> None:
        """The next ``count`` matching calls fail with ``kind``."""
        for _ in range(count):
            self._queue.append(Fault(kind, apply_effect, method, retry_after_seconds))

    def set_rate(self, kind: FaultKind, rate: float, *, apply_effect: bool = False) -> None:
        """Every call fails with ``kind`` with probability ``rate`` (seeded, reproducible)."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be in [0, 1]")
        self._rates[kind] = (rate, apply_effect)

    def clear(self) -> None:
        self._queue.clear()
        self._rates.clear()

    def take(self, method: str, path: str) -> Fault | None:
        for i, fault in enumerate(self._queue):
            if fault.method is None or fault.method == method:
                del self._queue[i]
                self.injected.append((fault.kind, method, path))
                return fault
        for kind, (rate, apply_effect) in sorted(self._rates.items()):
            if self._rng.random() < rate:
                self.injected.append((kind, method, path))
                return Fault(kind, apply_effect)
        return None
