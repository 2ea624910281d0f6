"""What the webhook endpoint remembers in PostgreSQL: which portal is which tenant, what was delivered.

HubSpot retries a batch it got no 2xx for (a 5xx, or no answer within its 5 s), so the endpoint
remembers each published notification's *delivery key* and does not publish it again. Remembering
is written behind (:class:`DeliveryLog`): once the broker acked a batch's events it is answered, and
its keys join a pending set that one background task writes in batches, some 50 ms later,
without waiting for the WAL flush. Lookups see pending keys too, so a retry reaching this process is
caught at once, and only retries are looked up in PostgreSQL (:meth:`DeliveryLog.delivered`).

What that risks is what losing the last keys in a database crash always risked: after a crash in
that window, a retry publishes a duplicate with the same ``event_id``, which downstream inboxes drop
- never a lost event, since nothing is remembered before its ack. What it saves is most of a
webhook's latency: a transaction of its own (four round trips) and a lookup per delivery. A database
outage leaves keys pending (bounded: past ``max_pending`` the oldest are forgotten, which again can
only cost a duplicate) and they are written when it is back.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import structlog

from streams.core.stage import Resources
from streams.core.web import DEPENDENCY_ERRORS

if TYPE_CHECKING:
    from streams.ingest.context import IngestContext

PORTAL_CACHE_S = 30.0
log = structlog.get_logger("roasloop.ingest.webhooks")


async def tenants_by_portal(ctx: IngestContext, portals: set[int]) -> dict[int, str]:
    """Tenant per portal. Known mappings are cached briefly (one query less per delivery); an
    unmapped portal is never cached, so a mapping added for it applies to the very next delivery."""
    now = time.monotonic()
    cache = ctx.portal_tenants
    found = {p: cache[p][0] for p in portals if p in cache and now - cache[p][1] < PORTAL_CACHE_S}
    missing = [p for p in portals if p not in found]
    if missing:
        rows = await ctx.res.pool.fetch(
            "SELECT portal_id, tenant_id FROM hubspot_portals WHERE portal_id = ANY($1::bigint[])", missing
        )
        for row in rows:
            found[int(row["portal_id"])] = str(row["tenant_id"])
            cache[int(row["portal_id"])] = (str(row["tenant_id"]), now)
    default = ctx.config.hubspot_default_tenant
    return {p: tenant for p in portals if (tenant := found.get(p) or default)}


INSERT = (
    # set_config(..., true) is SET LOCAL inside this one statement's transaction: no fsync wait, one round trip
    "WITH relaxed AS (SELECT set_config('synchronous_commit', 'off', true)) "
    "INSERT INTO hubspot_deliveries (delivery_key, tenant_id, event_id) "
    "SELECT k, t, e FROM unnest($1::text[], $2::text[], $3::text[]) AS d(k, t, e), relaxed "
    "ON CONFLICT DO NOTHING"
)


class DeliveryLog:
    def __init__(self, res: Resources, *, linger_s: float = 0.05, max_pending: int = 100_000,
                 retry_s: float = 1.0) -> None:
        self.res = res
        self.linger_s = linger_s
        self.max_pending = max_pending
        self.retry_s = retry_s
        self.pending: dict[str, tuple[str, str]] = {}
        self._wake = asyncio.Event()

    async def delivered(self, keys: list[str], retried: set[str]) -> set[str]:
        """The keys among ``keys`` that were published before: pending ones, and of those in
        ``retried`` (HubSpot's ``attemptNumber`` > 0) the ones written to PostgreSQL.

        A first attempt is not looked up: HubSpot never sent it before, so this endpoint cannot have
        published it, and the one lookup would be the only database round trip on the hot path. If
        HubSpot ever sends one twice anyway, its event id is the same and downstream inboxes drop it.
        """
        seen = {k for k in keys if k in self.pending}
        rest = [k for k in keys if k not in seen and k in retried]
        if rest:
            rows = await self.res.pool.fetch(
                "SELECT delivery_key FROM hubspot_deliveries WHERE delivery_key = ANY($1)", rest)
            seen.update(str(r["delivery_key"]) for r in rows)
        return seen

    def remember(self, rows: list[tuple[str, str, str]]) -> None:
        """Keys of published deliveries: (delivery key, tenant, event id), written behind."""
        for key, tenant, event_id in rows:
            self.pending[key] = (tenant, event_id)
        overflow = len(self.pending) - self.max_pending
        if overflow > 0:
            log.warning("hubspot_delivery_keys_dropped", count=overflow)
            for key in list(self.pending)[:overflow]:
                del self.pending[key]
        if rows:
            self._wake.set()

    async def flush(self) -> None:
        """Write every pending key now (raises what the database raises; the keys stay pending)."""
        batch = dict(self.pending)
        if not batch:
            return
        keys = list(batch)
        await self.res.pool.execute(INSERT, keys, [batch[k][0] for k in keys], [batch[k][1] for k in keys])
        for key in keys:
            if self.pending.get(key) == batch[key]:
                del self.pending[key]

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(self.linger_s)  # let the deliveries in flight join this write
            try:
                await self.flush()
            except DEPENDENCY_ERRORS as exc:
                log.warning("hubspot_delivery_keys_pending", error_type=type(exc).__name__, keys=len(self.pending))
                await asyncio.sleep(self.retry_s)
                self._wake.set()

    async def close(self) -> None:
        try:
            await self.flush()
        except DEPENDENCY_ERRORS as exc:
            log.warning("hubspot_delivery_keys_lost", error_type=type(exc).__name__, keys=len(self.pending))
