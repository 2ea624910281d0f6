"""The operator API's window onto the revenue stage's per-tenant stage values.

The values are the revenue stage's state (``streams/revenue/stage_values.py``); ingest only
passes reads and edits through, so that one module owns validation and defaults. Until that
module is installed the endpoints answer 503 instead of inventing a second store.
"""

from __future__ import annotations

import importlib
from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

Conn: TypeAlias = "asyncpg.Connection[Any] | PoolConnectionProxy[Any]"

MODULE = "streams.revenue.stage_values"


class Unavailable(Exception):
    pass


def _module() -> Any:
    try:
        return importlib.import_module(MODULE)
    except ModuleNotFoundError:
        raise Unavailable("stage values are managed by the revenue stage, which is not installed") from None


def _function(*names: str) -> Any:
    module = _module()
    for name in names:
        if callable(fn := getattr(module, name, None)):
            return fn
    raise Unavailable(f"{MODULE} has none of {', '.join(names)}")


async def get_values(conn: Conn, tenant_id: str) -> dict[str, int]:
    values = await _function("get_stage_values", "get_values", "load_stage_values")(conn, tenant_id)
    return {str(k): int(getattr(v, "amount_minor", v) or 0) for k, v in dict(values).items()}


async def set_values(conn: Conn, tenant_id: str, values: dict[str, int]) -> None:
    await _function("set_stage_values", "set_values", "save_stage_values")(conn, tenant_id, values)
