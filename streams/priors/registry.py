"""The model registry: numbered versions of an artifact, their metrics, and which one is active.

The artifact itself lives in object storage; PostgreSQL keeps the row that says where, how good
it was on validation, and whether readers should use it. Activating a version deactivates the
previous one in the same transaction (a partial unique index allows one active row per name),
so readers never see two or - mid-switch - none.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

import asyncpg

from streams.core.storage import ObjectStorage

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class ModelVersion:
    model_name: str
    version: int
    artifact_key: str
    metrics: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    active: bool = False


def _row(record: asyncpg.Record) -> ModelVersion:
    return ModelVersion(
        model_name=record["model_name"], version=record["version"], artifact_key=record["artifact_key"],
        metrics=dict(record["metrics"] or {}), params=dict(record["params"] or {}),
        created_at=record["created_at"], active=record["active"],
    )


_DEACTIVATE = "UPDATE model_registry SET active = false WHERE model_name = $1 AND active"
_COLUMNS = "model_name, version, artifact_key, metrics, params, created_at, active"


class ModelRegistry:
    """Registry operations over an asyncpg pool (JSON codecs from ``streams.core.db``)."""

    def __init__(self, pool: asyncpg.Pool[Any]) -> None:
        self.pool = pool

    async def register(self, model_name: str, artifact_key: str, metrics: dict[str, Any],
                       params: dict[str, Any] | None = None, activate: bool = True) -> ModelVersion:
        """Add the next version of ``model_name``; make it the active one unless told not to."""
        async with self.pool.acquire() as conn, conn.transaction():
            # serialise version numbering per model name (two trainers finishing at once)
            await conn.execute("SELECT pg_advisory_xact_lock($1)",
                               zlib.crc32(f"roasloop-model:{model_name}".encode()))
            version = await conn.fetchval(
                "SELECT coalesce(max(version), 0) + 1 FROM model_registry WHERE model_name = $1", model_name)
            if activate:
                await conn.execute(_DEACTIVATE, model_name)
            record = await conn.fetchrow(
                f"INSERT INTO model_registry (model_name, version, artifact_key, metrics, params, active)"
                f" VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_COLUMNS}",
                model_name, version, artifact_key, metrics, params or {}, activate)
        assert record is not None
        return _row(record)

    async def activate(self, model_name: str, version: int) -> ModelVersion:
        """Make an existing version the active one (roll back or forward)."""
        async with self.pool.acquire() as conn, conn.transaction():
            exists = await conn.fetchval(
                "SELECT 1 FROM model_registry WHERE model_name = $1 AND version = $2 FOR UPDATE",
                model_name, version)
            if not exists:
                raise LookupError(f"model {model_name!r} has no version {version}")
            await conn.execute(_DEACTIVATE, model_name)
            record = await conn.fetchrow(
                f"UPDATE model_registry SET active = true WHERE model_name = $1 AND version = $2"
                f" RETURNING {_COLUMNS}", model_name, version)
        assert record is not None
        return _row(record)

    async def active(self, model_name: str) -> ModelVersion | None:
        record = await self.pool.fetchrow(
            f"SELECT {_COLUMNS} FROM model_registry WHERE model_name = $1 AND active", model_name)
        return _row(record) if record is not None else None

    async def versions(self, model_name: str) -> list[ModelVersion]:
        records = await self.pool.fetch(
            f"SELECT {_COLUMNS} FROM model_registry WHERE model_name = $1 ORDER BY version", model_name)
        return [_row(r) for r in records]


class ActiveArtifact(Generic[T]):
    """The loaded active version of one model, swapped in when a newer version is activated.

    ``current`` is read without locks by ``prior_for``: a refresh loads the new artifact fully
    (storage read and parsing off the event loop) and then replaces one reference, so a reader
    sees either the old model or the new one, never half of either. A version that fails to
    load is logged and skipped; the previous model keeps serving.
    """

    def __init__(self, registry: ModelRegistry, storage: ObjectStorage, model_name: str,
                 loader: Callable[[bytes], T]) -> None:
        self.registry = registry
        self.storage = storage
        self.model_name = model_name
        self.loader = loader
        self.version: ModelVersion | None = None
        self.current: T | None = None

    async def refresh(self) -> bool:
        """Load the active version if it is not the one held; True when the model changed."""
        active = await self.registry.active(self.model_name)
        if active is None or (self.version is not None and active.version == self.version.version):
            return False
        try:
            loaded = await asyncio.to_thread(self._load, active.artifact_key)
        except Exception:
            log.exception("cannot load %s version %d from %s; keeping the previous one",
                          self.model_name, active.version, active.artifact_key)
            return False
        self.current, self.version = loaded, active
        log.info("loaded %s version %d", self.model_name, active.version)
        return True

    def _load(self, key: str) -> T:
        return self.loader(self.storage.get(key).data)

    async def watch(self, interval_s: float = 60.0, stop: asyncio.Event | None = None) -> None:
        """Refresh every ``interval_s`` seconds until ``stop`` is set (run it as a task)."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            try:
                await self.refresh()
            except (OSError, asyncpg.PostgresError) as exc:  # database briefly away: try next round
                log.warning("model registry unavailable (%s); retrying in %.0fs", exc, interval_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_s)
