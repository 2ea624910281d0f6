"""The asyncpg pool, with JSON codecs and the schema every connection works in."""

from __future__ import annotations

import json
from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from streams.core.errors import ConfigError
from streams.core.settings import Settings

Conn: TypeAlias = "asyncpg.Connection[Any] | PoolConnectionProxy[Any]"
"""The one connection type: opened alone or borrowed from the pool (``async with pool.acquire()``).

A function that runs statements takes a ``Conn``, so its caller decides the transaction it runs in;
a long-lived object or loop that borrows connections over time holds the ``asyncpg.Pool``."""


async def _init_connection(conn: asyncpg.Connection[Any]) -> None:
    for kind in ("json", "jsonb"):
        await conn.set_type_codec(kind, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


def connect_kwargs(settings: Settings) -> dict[str, Any]:
    if not settings.database_url:
        raise ConfigError("DATABASE_URL: not set (e.g. postgresql://user:pass@host:5432/roasloop)")
    return {
        "dsn": settings.database_url,
        "server_settings": {"search_path": settings.database_schema, "application_name": "roasloop"},
    }


async def create_pool(settings: Settings, **overrides: Any) -> asyncpg.Pool[Any]:
    options: dict[str, Any] = {
        **connect_kwargs(settings),
        "min_size": settings.db_pool_min_size,
        "max_size": settings.db_pool_max_size,
        "init": _init_connection,
        "command_timeout": 60,
    }
    options.update(overrides)
    pool = await asyncpg.create_pool(**options)
    assert pool is not None
    return pool


async def connect(settings: Settings) -> asyncpg.Connection[Any]:
    conn: asyncpg.Connection[Any] = await asyncpg.connect(**connect_kwargs(settings))
    await _init_connection(conn)
    return conn
