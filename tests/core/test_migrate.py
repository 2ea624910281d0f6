"""Migrations: in order, once, refusing edited files, safe when run twice at the same time."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
import pytest

from streams.core.migrate import MigrationError, discover, migrate


def write(directory: Path, name: str, sql: str) -> None:
    (directory / name).write_text(sql)


@pytest.fixture
def schema() -> str:
    return f"m_{uuid.uuid4().hex[:10]}"


async def test_applies_in_order_and_is_idempotent(pg_url: str, schema: str, tmp_path: Path) -> None:
    write(tmp_path, "0002_more.sql", "ALTER TABLE things ADD COLUMN size int;")
    write(tmp_path, "0001_things.sql", "CREATE TABLE things (id int PRIMARY KEY);")
    conn = await asyncpg.connect(pg_url)
    try:
        first = await migrate(conn, schema, tmp_path)
        second = await migrate(conn, schema, tmp_path)
        columns = await conn.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'things'",
            schema,
        )
    finally:
        await conn.close()
    assert [m.name for m in first] == ["things", "more"]
    assert second == []
    assert {r["column_name"] for r in columns} == {"id", "size"}


async def test_an_edited_applied_migration_is_refused(pg_url: str, schema: str, tmp_path: Path) -> None:
    write(tmp_path, "0001_things.sql", "CREATE TABLE things (id int);")
    conn = await asyncpg.connect(pg_url)
    try:
        await migrate(conn, schema, tmp_path)
        write(tmp_path, "0001_things.sql", "CREATE TABLE things (id bigint);")
        with pytest.raises(MigrationError, match="0001_things.sql was changed after it was applied"):
            await migrate(conn, schema, tmp_path)
    finally:
        await conn.close()


async def test_a_failing_migration_applies_nothing_of_itself(pg_url: str, schema: str, tmp_path: Path) -> None:
    write(tmp_path, "0001_ok.sql", "CREATE TABLE ok (id int);")
    write(tmp_path, "0002_bad.sql", "CREATE TABLE half (id int); SELECT no_such_function();")
    conn = await asyncpg.connect(pg_url)
    try:
        with pytest.raises(asyncpg.UndefinedFunctionError):
            await migrate(conn, schema, tmp_path)
        tables = await conn.fetch("SELECT table_name FROM information_schema.tables WHERE table_schema = $1", schema)
    finally:
        await conn.close()
    assert "half" not in {r["table_name"] for r in tables}


async def test_two_processes_migrating_at_once_apply_each_file_once(pg_url: str, schema: str, tmp_path: Path) -> None:
    write(tmp_path, "0001_slow.sql", "SELECT pg_sleep(0.5); CREATE TABLE once (id int);")
    conns = [await asyncpg.connect(pg_url) for _ in range(2)]
    try:
        results = await asyncio.gather(*(migrate(c, schema, tmp_path) for c in conns))
    finally:
        for c in conns:
            await c.close()
    assert sorted(len(r) for r in results) == [0, 1]


def test_badly_named_files_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "init.sql", "")
    with pytest.raises(MigrationError, match="NNNN_name.sql"):
        discover(tmp_path)


def test_the_shipped_migrations_are_well_formed() -> None:
    migrations = discover(Path(__file__).resolve().parents[2] / "sql")
    assert migrations[0].name == "core"
    assert [m.version for m in migrations] == sorted(m.version for m in migrations)
