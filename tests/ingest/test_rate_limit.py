"""Token buckets: bursts, refill, Retry-After, and isolation between tenants."""

from __future__ import annotations

import pytest

from streams.ingest.rate_limit import RateLimiter, retry_after_header


class Tick:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_a_burst_is_allowed_then_refused_with_the_wait_until_a_token() -> None:
    tick = Tick()
    limiter = RateLimiter(rate_per_s=2, burst=3, monotonic=tick)
    assert [limiter.acquire("acme") for _ in range(3)] == [None, None, None]
    assert limiter.acquire("acme") == pytest.approx(0.5)
    tick.t = 0.5
    assert limiter.acquire("acme") is None


def test_tenants_do_not_share_a_bucket() -> None:
    limiter = RateLimiter(rate_per_s=1, burst=1, monotonic=Tick())
    assert limiter.acquire("acme") is None
    assert limiter.acquire("acme") is not None
    assert limiter.acquire("globex") is None


def test_refill_never_exceeds_the_burst_and_costs_are_capped_at_it() -> None:
    tick = Tick()
    limiter = RateLimiter(rate_per_s=10, burst=5, monotonic=tick)
    tick.t = 3600
    assert limiter.acquire("acme", cost=5) is None
    assert limiter.acquire("acme") == pytest.approx(0.1)
    tick.t += 1
    assert limiter.acquire("acme", cost=500) is None  # a maximal batch still gets through, rarely


def test_retry_after_is_whole_seconds_rounded_up() -> None:
    assert [retry_after_header(s) for s in (0.01, 1.0, 1.2)] == ["1", "1", "2"]


def test_nonsense_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        RateLimiter(0, 1)
