"""The Meta Graph API stand-in served over HTTP, with a manual clock both sides share.

A pytest plugin (``tests/conftest.py`` lists it) because the Meta client's own specifications
(``tests/integrations``) and the executor's use the same fixtures.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr

from streams.core.clock import ManualClock
from streams.integrations.meta import BackoffPolicy, MetaClient
from streams.lab.sandbox.meta import create_meta_app
from streams.lab.sandbox.meta_state import MetaState
from streams.lab.sandbox.serve import BackgroundServer

START = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
TENANT = "acme"
VERSION = "v26.0"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


def world(state: MetaState, adsets: dict[str, int], campaign: str = "c1") -> None:
    """One account, one campaign (ad set budgets), the given ad sets with their budgets."""
    if "1" not in state.accounts:
        state.add_account("1")
    if campaign not in state.campaigns:
        state.add_campaign(campaign, "1")
    for adset_id, budget in adsets.items():
        state.add_adset(adset_id, campaign, budget)


@pytest.fixture
def meta_state(clock: ManualClock) -> MetaState:
    state = MetaState(clock=clock.now)
    state.faults.timeout_seconds = 0.6
    return state


@pytest.fixture(scope="session")
def _meta_server() -> Iterator[tuple[BackgroundServer, dict[str, MetaState]]]:
    """One server for the session; each test swaps in its own state (cheap, no port churn)."""
    holder: dict[str, MetaState] = {"state": MetaState()}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await create_meta_app(holder["state"])(scope, receive, send)

    server = BackgroundServer(app)
    server.start()
    yield server, holder
    server.stop()


@pytest.fixture
def meta_url(_meta_server: tuple[BackgroundServer, dict[str, MetaState]], meta_state: MetaState) -> str:
    server, holder = _meta_server
    holder["state"] = meta_state
    assert server.base_url is not None
    return server.base_url


def make_client(url: str, state: MetaState, clock: ManualClock, *, timeout: float = 0.3,
                max_attempts: int = 5, max_backoff: float = 300.0) -> MetaClient:
    return MetaClient.create(
        graph_url=url, version=VERSION, access_token=SecretStr(state.access_token),
        app_secret=SecretStr(state.app_secret), clock=clock, timeout_seconds=timeout,
        policy=BackoffPolicy(base_seconds=1.0, max_seconds=max_backoff, max_attempts=max_attempts),
    )


@pytest.fixture
async def meta_client(meta_url: str, meta_state: MetaState, clock: ManualClock) -> AsyncIterator[MetaClient]:
    client = make_client(meta_url, meta_state, clock)
    yield client
    await client.aclose()
