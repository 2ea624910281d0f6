"""Numbered SQL migrations, applied in order, once, safely.

Files ``sql/NNNN_name.sql`` are applied in number order, each in its own transaction, and
recorded in ``schema_migrations`` with a SHA-256 checksum. A file whose content changed after it
was applied is refused (fix forward with a new file). A transaction-level advisory lock keyed on
the schema makes concurrent ``roasloop migrate`` runs safe: the second waits, then finds nothing
left to do.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from streams.core.errors import ConfigError

FILE_PATTERN = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


def default_directory() -> Path:
    """``sql/`` at the repository root, or the copy installed beside the package."""
    here = Path(__file__).resolve()
    for candidate in (here.parents[2] / "sql", here.parents[1] / "sql"):
        if candidate.is_dir():
            return candidate
    raise ConfigError("migrations directory 'sql/' not found next to the roasloop package")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


class MigrationError(RuntimeError):
    pass


def discover(directory: Path) -> list[Migration]:
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = FILE_PATTERN.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNNN_name.sql")
        migrations.append(Migration(int(match[1]), match[2], path, path.read_text()))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a number in {directory}")
    return migrations


async def migrate(conn: asyncpg.Connection[Any], schema: str, directory: Path | None = None) -> list[Migration]:
    """Apply pending migrations into ``schema``; return the ones applied by this call."""
    migrations = discover(directory or default_directory())
    lock_key = zlib.crc32(f"roasloop-migrate:{schema}".encode())
    applied_now: list[Migration] = []
    async with conn.transaction():
        # Lock first: even CREATE SCHEMA IF NOT EXISTS races with itself.
        await conn.execute("SELECT pg_advisory_xact_lock($1)", lock_key)
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        await conn.execute(f'SET search_path TO "{schema}"')
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["version"]: r for r in await conn.fetch("SELECT version, name, checksum FROM schema_migrations")}
        for migration in migrations:
            row = done.get(migration.version)
            if row is not None:
                if row["checksum"] != migration.checksum:
                    raise MigrationError(
                        f"{migration.path.name} was changed after it was applied "
                        f"(checksum {row['checksum'][:12]} in the database, {migration.checksum[:12]} on disk); "
                        "add a new migration instead of editing an applied one"
                    )
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version, migration.name, migration.checksum,
                )
            applied_now.append(migration)
    return applied_now
