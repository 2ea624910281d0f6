"""Operator-set rows with a version: the one way a setting changes without silently undoing a colleague's.

Every row a person edits (guardrail overrides, entity bounds, automation modes, group budgets)
carries a ``version``. :func:`save_row` inserts or updates it under an advisory lock of its key,
bumps the version, and leaves an ``operator_audit`` row in the same transaction. A caller that
passes ``expected_version`` - the version it showed the person - gets :class:`StaleVersion` when
someone wrote in between (the operator API answers 409 Conflict); ``0`` means "I saw no row".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Annotated, Any

from pydantic import TypeAdapter
from pydantic.fields import FieldInfo

from streams.core.controls.audit import record_operator_action
from streams.core.db import Conn


class StaleVersion(Exception):
    """The row changed since the caller read it (the operator API answers 409 Conflict)."""

    def __init__(self, what: str, expected: int, found: int) -> None:
        super().__init__(f"{what} is at version {found}, not {expected}: it changed since it was read")
        self.expected = expected
        self.found = found


def _json(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


async def save_row(conn: Conn, table: str, key: dict[str, str], changes: dict[str, Any], actor: str,
                audited_as: tuple[str, str], expected_version: int | None,
                check: Callable[[Mapping[str, Any]], None] | None = None) -> int:
    """Insert or update one row of ``table`` under ``key``; returns its new version.

    ``audited_as`` is the audit row's (action, target).
    """
    if not key["tenant_id"]:
        raise ValueError("tenant_id: empty")
    what = f"{table} {'/'.join(v or '(tenant-wide)' for v in key.values())}"
    where = " AND ".join(f"{column} = ${i}" for i, column in enumerate(key, start=1))
    async with conn.transaction():
        # writers of one key queue here, so a first insert cannot race another (no lost row)
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", what)
        row = await conn.fetchrow(f"SELECT * FROM {table} WHERE {where}", *key.values())
        found = int(row["version"]) if row is not None else 0
        if expected_version is not None and expected_version != found:
            raise StaleVersion(what, expected_version, found)
        if check is not None:
            check({**(dict(row) if row is not None else {}), **changes})
        if row is None:
            columns = [*key, *changes, "updated_by"]
            params = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
            version = await conn.fetchval(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({params}) RETURNING version",
                *key.values(), *changes.values(), actor)
        else:
            sets = ", ".join(f"{column} = ${i}" for i, column in enumerate(changes, start=len(key) + 1))
            version = await conn.fetchval(
                f"UPDATE {table} SET {sets}, updated_by = ${len(key) + len(changes) + 1}, updated_at = now(), "
                f"version = version + 1 WHERE {where} RETURNING version",
                *key.values(), *changes.values(), actor)
        action, target = audited_as
        await record_operator_action(conn, key["tenant_id"], actor, action, target,
                                     {**key, "changes": {k: _json(v) for k, v in changes.items()},
                                      "version": version})
    return int(version)


def field_adapter(info: FieldInfo) -> TypeAdapter[Any]:
    """A validator of one settings field with its bounds (``ge``, ``le`` ...), without the rest of the model:
    an operator's override is checked by the very rule the setting itself obeys."""
    annotated: Any = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
    return TypeAdapter(annotated)
