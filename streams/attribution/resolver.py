"""From a deal-stage event to ``ConversionAttributed``: decide once, wait for late clicks, emit.

Two entry points share one path, :func:`settle`:

- :func:`recheck` - new clicks or catalog entries may now match deals that are waiting;
- the sweeper's expiry - a waiting deal's bound passed: decide with what there is, or ``none``.

The third, a ``DealStageChanged`` arriving (claimed in the inbox: exactly once), makes the same
decisions for a whole batch at once (:mod:`streams.attribution.stage_batch`).

Every path takes the tenant's advisory lock first. Without it a click committed between a deal's
"no click yet" read and its "pending" insert would match nobody: the click's re-check would not
see the uncommitted pending row, and the deal would expire unattributed with its click indexed.

Conversions are *emitted* into the transaction's :class:`~streams.core.process.Effects`, which
publishes them before it commits: if publishing fails, nothing is recorded and the redelivered
stage event does it all again; if the commit fails after a publish, the retry republishes the
same deterministic ``event_id``, which revenue's inbox drops.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import structlog

from schemas.codec import decode_as
from schemas.events import DealStageChanged
from streams.attribution import decisions
from streams.attribution.decisions import UNATTRIBUTED, Decision
from streams.attribution.matching import candidates, choose, merge_signals
from streams.attribution.settings import AttributionSettings
from streams.core.db import Conn
from streams.core.process import Effects

CONSUMER = "attribution"
log = structlog.get_logger("roasloop.attribution")


async def lock_tenant(conn: Conn, tenant_id: str) -> None:
    """Serialize a tenant's click re-checks and deal decisions (held until the transaction ends)."""
    await lock_tenants(conn, [tenant_id])


async def lock_tenants(conn: Conn, tenant_ids: Iterable[str]) -> None:
    """Lock several tenants in one round trip, always in sorted order.

    Every batch (clicks, deal stages, the sweeper) takes its tenants in that one order, so two
    batches never wait on each other in a cycle; the locks are taken one after the other in the
    array's order (volatile functions run after ``ORDER BY``).
    """
    ordered = sorted(set(tenant_ids))
    if ordered:
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('roasloop-attribution:' || u.t, 0))"
            " FROM unnest($1::text[]) WITH ORDINALITY AS u(t, i) ORDER BY u.i", ordered,
        )


@dataclass
class Context:
    """What every path needs: the transaction's effects (connection, now, emit) and the settings."""

    fx: Effects
    config: AttributionSettings

    @property
    def conn(self) -> Conn:
        return self.fx.conn

    @property
    def now(self) -> datetime:
        return self.fx.now

    async def window_days(self, tenant_id: str) -> int:
        days = await self.conn.fetchval(
            "SELECT attribution_window_days FROM tenants WHERE tenant_id = $1", tenant_id
        )
        return int(days) if days is not None else self.config.default_window_days


async def settle(ctx: Context, tenant_id: str, deal_id: str, events: list[DealStageChanged],
                 *, final: bool) -> tuple[Decision | None, str | None]:
    """Try to decide a deal from its stage events; emit them all if decided.

    Returns ``(decision, waiting_ad_id)``; a None decision means the deal keeps waiting.
    """
    events = sorted(events, key=lambda e: (e.occurred_at, e.event_id))
    signals = merge_signals([e.contact for e in events])
    conversion_at = events[0].occurred_at
    found = await candidates(
        ctx.conn, tenant_id, signals, conversion_at, await ctx.window_days(tenant_id),
        ctx.config.clock_skew_seconds, ctx.config.probabilistic_candidates,
    )
    match, waiting_ad = choose(found, final=final)
    if match is None and not final:
        return None, waiting_ad
    decision = Decision.from_match(match) if match else UNATTRIBUTED
    await decisions.store(ctx.conn, tenant_id, deal_id, decision, conversion_at, ctx.now)
    for event in events:
        ctx.fx.emit(decisions.conversion(event, decision, ctx.now))
    log.info("deal_attributed", tenant_id=tenant_id, deal_id=deal_id, method=decision.method,
             matched_on=decision.matched_on, confidence=decision.confidence, stage_events=len(events))
    return decision, None


async def _pending_events(conn: Conn, tenant_id: str, deal_id: str) -> list[DealStageChanged]:
    rows = await conn.fetch(
        "SELECT event FROM pending_stage_events WHERE tenant_id = $1 AND deal_id = $2", tenant_id, deal_id
    )
    return [decode_as(r["event"], DealStageChanged) for r in rows]


async def _clear_pending(conn: Conn, tenant_id: str, deal_id: str) -> None:
    await conn.execute("DELETE FROM pending_stage_events WHERE tenant_id = $1 AND deal_id = $2", tenant_id, deal_id)


async def resolve_waiting(ctx: Context, tenant_id: str, deal_id: str, *, final: bool) -> Decision | None:
    """Re-try a waiting deal (caller holds the tenant lock). ``final``: its wait is over."""
    waiting = await _pending_events(ctx.conn, tenant_id, deal_id)
    if not waiting:
        return None
    decision, waiting_ad = await settle(ctx, tenant_id, deal_id, waiting, final=final)
    if decision is not None:
        await _clear_pending(ctx.conn, tenant_id, deal_id)
    else:
        await ctx.conn.execute(
            "UPDATE pending_stage_events SET waiting_ad_id = $3 WHERE tenant_id = $1 AND deal_id = $2",
            tenant_id, deal_id, waiting_ad,
        )
    return decision


RECHECK_SQL = """
SELECT DISTINCT p.tenant_id, p.deal_id
FROM unnest($1::text[], $2::text[]) AS n(tenant_id, click_id)
JOIN clicks c ON c.tenant_id = n.tenant_id AND c.click_id = n.click_id
JOIN pending_stage_events p ON p.tenant_id = c.tenant_id
 AND (p.click_id = c.click_id OR p.fbclid = c.fbclid OR p.utm_ad_id = c.ad_id
      OR p.email_hash = c.email_hash OR p.device_id = c.device_id
      OR (p.ip_hash = c.ip_hash AND p.user_agent_hash = c.user_agent_hash))
UNION
SELECT p.tenant_id, p.deal_id
FROM unnest($3::text[], $4::text[]) AS a(tenant_id, ad_id)
JOIN pending_stage_events p ON p.tenant_id = a.tenant_id AND p.waiting_ad_id = a.ad_id
"""


async def recheck(ctx: Context, new_clicks: list[tuple[str, str]], new_ads: list[tuple[str, str]]) -> int:
    """Decide waiting deals that the new clicks or newly catalogued ads may match; returns how many.

    The caller has inserted the clicks in this transaction; the tenants' locks are taken here.
    """
    await lock_tenants(ctx.conn, [t for t, _ in new_clicks] + [t for t, _ in new_ads])
    rows = await ctx.conn.fetch(
        RECHECK_SQL,
        [t for t, _ in new_clicks], [c for _, c in new_clicks], [t for t, _ in new_ads], [a for _, a in new_ads],
    )
    decided = 0
    for row in rows:
        if await resolve_waiting(ctx, row["tenant_id"], row["deal_id"], final=False) is not None:
            decided += 1
    return decided
