"""Per-tenant token buckets for the public endpoints (429 with ``Retry-After``).

In memory, per process: with N ingress replicas a tenant gets up to N times the rate. That is
enough to stop one tenant's runaway tracker from starving the others on a replica; a shared
limit would need a store (Redis, PostgreSQL) on every request's path, which costs more than it
protects here. Time comes from a monotonic function so tests can drive it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

MAX_KEYS = 100_000  # forget idle buckets beyond this many (bounded memory under key spraying)


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self, rate_per_s: float, burst: int,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate_per_s
        self.burst = float(burst)
        self._now = monotonic
        self._buckets: dict[str, _Bucket] = {}

    def acquire(self, key: str, cost: float = 1.0) -> float | None:
        """Take ``cost`` tokens for ``key``: None if allowed, else seconds until it would be."""
        now = self._now()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_KEYS:
                self._evict_full(now)
            bucket = self._buckets[key] = _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        cost = min(cost, self.burst)  # a maximal batch is always possible, just rarely
        if bucket.tokens >= cost:
            bucket.tokens -= cost
            return None
        return (cost - bucket.tokens) / self.rate

    def _evict_full(self, now: float) -> None:
        full = [k for k, b in self._buckets.items() if b.tokens + (now - b.updated) * self.rate >= self.burst]
        for key in full or list(self._buckets)[: len(self._buckets) // 2]:
            del self._buckets[key]


def retry_after_header(seconds: float) -> str:
    """``Retry-After`` is whole seconds; round up so a client that obeys it is let in."""
    return str(max(1, math.ceil(seconds)))
