"""Shared fixtures for the sandbox tests: a settable clock and a small Meta world."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from streams.lab.sandbox.meta_state import MetaState
from tests.lab.sandbox.sandbox_fakes import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2025, 3, 3, 9, 0, tzinfo=UTC))


@pytest.fixture
def meta_state(clock: FakeClock) -> MetaState:
    state = MetaState(access_token="tok-123", app_secret="shh", clock=clock)
    state.add_account("555", "USD", min_daily_budget_minor=100)
    state.add_campaign("200", "555", "Campaign A")
    state.add_adset("301", "200", 10_000, "Ad set one")
    state.add_adset("302", "200", 20_000, "Ad set two")
    state.add_ad("401", "301", "Ad one")
    return state
