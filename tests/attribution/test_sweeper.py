"""The sweeper gives up waiting for late clicks in batches, and one bad deal holds back no other."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from streams.attribution import sweeper
from streams.attribution.settings import AttributionSettings
from streams.core.clock import ManualClock


class DuePool:
    def __init__(self, due: list[dict[str, str]]) -> None:
        self.due = due

    async def fetch(self, *_: Any) -> list[dict[str, str]]:
        return self.due


class Res:
    def __init__(self, due: list[dict[str, str]]) -> None:
        self.pool, self.clock = DuePool(due), ManualClock(datetime(2026, 5, 1, tzinfo=UTC))


async def test_a_deal_that_cannot_be_decided_is_left_for_the_next_sweep_and_the_others_expire(
        monkeypatch: pytest.MonkeyPatch) -> None:
    due = [{"tenant_id": "acme", "deal_id": d} for d in ("d1", "broken", "d3")]
    expired: list[tuple[str, str]] = []

    async def expire(_: Any, __: Any, keys: list[tuple[str, str]]) -> int:
        if ("acme", "broken") in keys:
            raise RuntimeError("cannot decide")
        expired.extend(keys)
        return len(keys)

    monkeypatch.setattr(sweeper, "_expire", expire)
    assert await sweeper.expire_pending(Res(due), AttributionSettings()) == 2  # type: ignore[arg-type]
    assert expired == [("acme", "d1"), ("acme", "d3")]


async def test_a_healthy_sweep_expires_its_deals_in_one_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    batches: list[list[tuple[str, str]]] = []

    async def expire(_: Any, __: Any, keys: list[tuple[str, str]]) -> int:
        batches.append(keys)
        return len(keys)

    monkeypatch.setattr(sweeper, "_expire", expire)
    due = [{"tenant_id": "acme", "deal_id": d} for d in ("d1", "d2")]
    assert await sweeper.expire_pending(Res(due), AttributionSettings()) == 2  # type: ignore[arg-type]
    assert batches == [[("acme", "d1"), ("acme", "d2")]]
