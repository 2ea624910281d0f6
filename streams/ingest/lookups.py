"""Per-process caches of what every click looks up: a tenant's landing hosts, an ad's hierarchy.

The click redirect is the endpoint every ad click hits, and both answers change rarely (an operator
edits the allow-list; attribution learns an ad's ad set once), so each is read from PostgreSQL at
most once per ``ROASLOOP_INGEST_LOOKUP_CACHE_SECONDS`` per process. What that costs: a host removed
from the allow-list is still followed for up to that long. An unknown tenant is never cached, so a
tenant set up a moment ago takes clicks at once. The caches are bounded: past ``max_entries`` the
oldest half is forgotten, so a flood of made-up ad ids cannot grow memory.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

import asyncpg

from streams.core.db import Conn
from streams.ingest.ad_catalog import lookup_ad

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    def __init__(self, ttl_s: float, max_entries: int = 100_000,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._now = monotonic
        self._entries: dict[K, tuple[V, float]] = {}

    def get(self, key: K) -> tuple[bool, V | None]:
        """(found, value): found is False for a missing or expired entry."""
        entry = self._entries.get(key)
        if entry is None or self._now() - entry[1] >= self.ttl_s:
            return False, None
        return True, entry[0]

    def put(self, key: K, value: V) -> None:
        if self.ttl_s <= 0:
            return
        if len(self._entries) >= self.max_entries:
            for old in list(self._entries)[: self.max_entries // 2]:  # dicts keep insertion order
                del self._entries[old]
        self._entries[key] = (value, self._now())

    def __len__(self) -> int:
        return len(self._entries)


class ClickLookups:
    def __init__(self, ttl_s: float) -> None:
        self.hosts: TtlCache[str, list[str]] = TtlCache(ttl_s)
        self.ads: TtlCache[tuple[str, str], tuple[str | None, str | None]] = TtlCache(ttl_s)

    async def landing_hosts(self, conn: Conn | asyncpg.Pool[Any], tenant_id: str) -> list[str] | None:
        """The tenant's allow-list, or None for a tenant roasloop does not know."""
        found, hosts = self.hosts.get(tenant_id)
        if found:
            return hosts
        row = await conn.fetchval("SELECT landing_hosts FROM tenants WHERE tenant_id = $1", tenant_id)
        if row is None:
            return None
        self.hosts.put(tenant_id, list(row))
        return list(row)

    async def ad(self, conn: Conn | asyncpg.Pool[Any], tenant_id: str, ad_id: str) -> tuple[str | None, str | None]:
        """(ad set id, campaign id) of a catalogued ad; (None, None) for one not catalogued yet."""
        found, ids = self.ads.get((tenant_id, ad_id))
        if found and ids is not None:
            return ids
        ids = await lookup_ad(conn, tenant_id, ad_id)
        self.ads.put((tenant_id, ad_id), ids)
        return ids
