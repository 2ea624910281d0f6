"""Fixtures: one real broker and one real PostgreSQL per session, isolation per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import pytest

from streams.core.db import create_pool
from streams.core.migrate import migrate
from streams.core.settings import Settings, load_settings
from streams.core.topics_admin import ensure_topics
from tests.infra import drop_topics, kafka_server, postgres_server

pytest_plugins = ("tests.meta_standin", "tests.jwt_issuer")

os.environ.setdefault("HYPOTHESIS_PROFILE", "ci")


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    with kafka_server() as servers:
        yield servers


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


def _unique() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def test_id() -> str:
    return _unique()


@pytest.fixture
async def settings(kafka_bootstrap: str, pg_url: str, test_id: str) -> AsyncIterator[Settings]:
    """Settings for one test: its own topic prefix (topics created) and database schema (migrated),
    both dropped afterwards; a topic a test makes under a name containing its prefix goes too."""
    s = load_settings(
        kafka_bootstrap_servers=kafka_bootstrap,
        database_url=pg_url,
        database_schema=f"t_{test_id}",
        topic_prefix=f"t{test_id}.",
        environment="test",
        kafka_session_timeout_ms=2_000,
        kafka_heartbeat_interval_ms=500,
        log_format="console",
    )
    conn = await asyncpg.connect(pg_url)
    try:
        await migrate(conn, s.database_schema)
    finally:
        await conn.close()
    await ensure_topics(s)
    yield s
    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{s.database_schema}" CASCADE')
    finally:
        await conn.close()
    await drop_topics(kafka_bootstrap, s.topic_prefix)


@pytest.fixture
async def db_pool(settings: Settings) -> AsyncIterator[asyncpg.Pool[Any]]:
    pool = await create_pool(settings, min_size=1, max_size=4)
    yield pool
    await pool.close()
