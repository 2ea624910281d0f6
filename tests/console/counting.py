"""Count the SQL statements a request runs: a pool stand-in that logs every query of every connection lent."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg


class CountingPool:
    """Wraps an asyncpg pool; ``statements`` lists every query run on a connection it lent."""

    def __init__(self, pool: asyncpg.Pool[Any]) -> None:
        self.pool = pool
        self.statements: list[str] = []

    def _log(self, record: Any) -> None:
        self.statements.append(record.query)

    @contextlib.asynccontextmanager
    async def acquire(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        async with self.pool.acquire(*args, **kwargs) as conn:
            conn.add_query_logger(self._log)
            try:
                yield conn
            finally:
                conn.remove_query_logger(self._log)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pool, name)
