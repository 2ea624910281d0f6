"""Deals decided set-based: a few statements per batch of stage events or waiting deals, not six per deal.

Deciding one event at a time - lock, load the decision, load the pending rows, read the window,
match, store - cost six round trips per event and held conversions to a hundred or so a second.
Here a batch (already claimed in the inbox, its tenants locked by the caller) costs:

1. one read each of the batch's stored decisions, pending rows and tenant windows;
2. one matching statement per *round* (:func:`~streams.attribution.matching.candidates_many`);
3. one write each for new decisions, cleared pending rows, re-pointed waits and new pending rows.

The decisions are the ones the one-event-at-a-time path makes, because the batch is replayed in
memory in its order: deals never read each other's rows, so only a deal's own events are ordered,
and round ``k`` matches each deal's ``k``-th event that still needs matching (a second event of a
deal that is still waiting sees the first one's pending row, with its signals). Conversions are
emitted in the order the events came, each event's conversions where that event would have
emitted them, so per-key order downstream is what it was.

Waiting deals re-tried together (:func:`resolve_waiting`: by a click batch's re-check, or by the
sweeper once their wait is over) go through the same reads, one matching statement and writes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from schemas.codec import decode_as, encode
from schemas.envelope import Envelope
from schemas.events import DealStageChanged
from streams.attribution import decisions
from streams.attribution.context import Context
from streams.attribution.decisions import UNATTRIBUTED, Decision
from streams.attribution.matching import Query, candidates_many, choose, merge_signals

log = structlog.get_logger("roasloop.attribution")

Key = tuple[str, str]
"""(tenant_id, deal_id)"""


@dataclass
class Pending:
    """A waiting stage event, as ``pending_stage_events`` holds it (or will, once written)."""

    event: DealStageChanged
    waiting_ad: str | None
    stored: bool
    """Already a row in PostgreSQL (read at the start of the batch)."""
    repointed: bool = False
    """A stored row whose ``waiting_ad_id`` this batch changed."""


@dataclass
class Deal:
    """One deal's state while its batch is replayed: what is decided and what waits."""

    decided: Decision | None
    pending: list[Pending]
    todo: list[tuple[int, DealStageChanged]] = field(default_factory=list)
    """Its events of this batch not yet handled, with their position in the batch."""
    new_decision: tuple[Decision, datetime] | None = None
    """Decided in this batch (decision, conversion time): to insert."""
    cleared: bool = False
    """Had stored pending rows when it was decided: to delete."""


PENDING_SQL = """
SELECT p.tenant_id, p.deal_id, p.event, p.waiting_ad_id FROM pending_stage_events p
WHERE (p.tenant_id, p.deal_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
"""

CLEAR_SQL = """
DELETE FROM pending_stage_events p USING unnest($1::text[], $2::text[]) AS u(tenant_id, deal_id)
WHERE p.tenant_id = u.tenant_id AND p.deal_id = u.deal_id
"""

REPOINT_SQL = """
UPDATE pending_stage_events p SET waiting_ad_id = u.ad_id
FROM unnest($1::text[], $2::text[], $3::text[]) AS u(tenant_id, stage_event_id, ad_id)
WHERE p.tenant_id = u.tenant_id AND p.stage_event_id = u.stage_event_id
"""

ADD_PENDING_SQL = """
INSERT INTO pending_stage_events (tenant_id, deal_id, stage_event_id, occurred_at, deadline, event, click_id,
                                  fbclid, utm_ad_id, email_hash, device_id, ip_hash, user_agent_hash, waiting_ad_id)
SELECT u.tenant_id, u.deal_id, u.stage_event_id, u.occurred_at, $14::timestamptz, u.event, u.click_id, u.fbclid,
       u.utm_ad_id, u.email_hash, u.device_id, u.ip_hash, u.user_agent_hash, u.waiting_ad_id
FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], $7::text[], $8::text[],
            $9::text[], $10::text[], $11::text[], $12::text[], $13::text[])
     AS u(tenant_id, deal_id, stage_event_id, occurred_at, event, click_id, fbclid, utm_ad_id, email_hash, device_id,
          ip_hash, user_agent_hash, waiting_ad_id)
ON CONFLICT DO NOTHING
"""


async def _load(ctx: Context, keys: list[Key]) -> dict[Key, Deal]:
    tenants, deal_ids = [t for t, _ in keys], [d for _, d in keys]
    deals = {key: Deal(decided=None, pending=[]) for key in keys}
    for key, decision in (await decisions.load_many(ctx.conn, keys)).items():
        deals[key].decided = decision
    for row in await ctx.conn.fetch(PENDING_SQL, tenants, deal_ids):
        deals[(row["tenant_id"], row["deal_id"])].pending.append(
            Pending(decode_as(row["event"], DealStageChanged), row["waiting_ad_id"], stored=True)
        )
    return deals


async def _windows(ctx: Context, tenants: list[str]) -> dict[str, int]:
    rows = await ctx.conn.fetch(
        "SELECT tenant_id, attribution_window_days FROM tenants WHERE tenant_id = ANY($1::text[])", tenants
    )
    days = {r["tenant_id"]: r["attribution_window_days"] for r in rows}
    return {t: int(days[t]) if days.get(t) is not None else ctx.config.default_window_days for t in tenants}


def _next_to_match(ctx: Context, deal: Deal,
                   emitted: dict[int, list[Envelope]]) -> tuple[int, DealStageChanged] | None:
    """Emit the deal's events that reuse its decision; return the first that must be matched."""
    while deal.todo:
        index, event = deal.todo.pop(0)
        if deal.decided is None:
            return index, event
        emitted[index] = [decisions.conversion(event, deal.decided, ctx.now)]
    return None


def _settled(ctx: Context, deal: Deal, index: int, events: list[DealStageChanged], decision: Decision,
             emitted: dict[int, list[Envelope]]) -> None:
    deal.decided = decision
    deal.new_decision = (decision, events[0].occurred_at)
    deal.cleared = deal.cleared or any(p.stored for p in deal.pending)
    deal.pending = []
    emitted[index] = [decisions.conversion(e, decision, ctx.now) for e in events]


def _wait(deal: Deal, event: DealStageChanged, waiting_ad: str | None) -> None:
    """As one event did: add its pending row (unless already there), then point the whole deal at the ad."""
    if all(p.event.event_id != event.event_id for p in deal.pending):
        deal.pending.append(Pending(event, waiting_ad, stored=False))
    if waiting_ad is not None:
        for p in deal.pending:
            if p.waiting_ad != waiting_ad:
                p.waiting_ad, p.repointed = waiting_ad, p.repointed or p.stored


def _by_time(event: DealStageChanged) -> tuple[datetime, str]:
    return event.occurred_at, event.event_id


def _query(events: list[DealStageChanged], windows: dict[str, int]) -> Query:
    """What a deal is matched on: all its waiting events' signals, from its earliest event."""
    tenant_id = events[0].tenant_id
    return Query(tenant_id, merge_signals([e.contact for e in events]), events[0].occurred_at, windows[tenant_id])


async def attribute_batch(ctx: Context, batch: Sequence[DealStageChanged]) -> None:
    """Decide or park every event of ``batch`` (inbox-claimed, tenants locked by the caller), in order."""
    deals: dict[Key, Deal] = await _load(ctx, list(dict.fromkeys((e.tenant_id, e.deal_id) for e in batch)))
    for index, event in enumerate(batch):
        deals[(event.tenant_id, event.deal_id)].todo.append((index, event))
    windows = await _windows(ctx, sorted({e.tenant_id for e in batch}))
    final = ctx.config.pending_seconds <= 0
    emitted: dict[int, list[Envelope]] = {}
    while True:
        round_: list[tuple[Deal, int, DealStageChanged, list[DealStageChanged]]] = []
        for deal in deals.values():
            todo = _next_to_match(ctx, deal, emitted)
            if todo is not None:
                events = sorted([*(p.event for p in deal.pending), todo[1]], key=_by_time)
                round_.append((deal, todo[0], todo[1], events))
        if not round_:
            break
        found = await candidates_many(ctx.conn, [_query(events, windows) for *_, events in round_],
                                      ctx.config.clock_skew_seconds, ctx.config.probabilistic_candidates)
        for (deal, index, event, events), matches in zip(round_, found, strict=True):
            match, waiting_ad = choose(matches, final=final)
            if match is None and not final:
                _wait(deal, event, waiting_ad)
            else:
                _settled(ctx, deal, index, events, Decision.from_match(match) if match else UNATTRIBUTED, emitted)
    await _finish(ctx, deals, emitted)


async def resolve_waiting(ctx: Context, keys: Sequence[Key], *, final: bool) -> int:
    """Re-try waiting deals (their tenants locked by the caller); ``final``: their wait is over.

    Each is decided from all its waiting events, or keeps waiting - for the ad its best click is
    on, or for nothing. Returns how many were decided.
    """
    if not keys:  # most click batches match no waiting deal: no round trip for them
        return 0
    deals = await _load(ctx, list(dict.fromkeys(keys)))
    waiting = [(deal, sorted((p.event for p in deal.pending), key=_by_time)) for deal in deals.values() if deal.pending]
    windows = await _windows(ctx, sorted({events[0].tenant_id for _, events in waiting}))
    found = await candidates_many(ctx.conn, [_query(events, windows) for _, events in waiting],
                                  ctx.config.clock_skew_seconds, ctx.config.probabilistic_candidates)
    emitted: dict[int, list[Envelope]] = {}
    for index, ((deal, events), matches) in enumerate(zip(waiting, found, strict=True)):
        match, waiting_ad = choose(matches, final=final)
        if match is None and not final:
            for p in deal.pending:
                if p.waiting_ad != waiting_ad:
                    p.waiting_ad, p.repointed = waiting_ad, True
        else:
            _settled(ctx, deal, index, events, Decision.from_match(match) if match else UNATTRIBUTED, emitted)
    await _finish(ctx, deals, emitted)
    return sum(1 for deal in deals.values() if deal.new_decision is not None)


async def _finish(ctx: Context, deals: dict[Key, Deal], emitted: dict[int, list[Envelope]]) -> None:
    """Write the net effect, then emit the conversions in the order their events came."""
    await _write(ctx, deals)
    _log_decided(deals)
    for index in sorted(emitted):
        for conversion in emitted[index]:
            ctx.fx.emit(conversion)


def _log_decided(deals: dict[Key, Deal]) -> None:
    """One line per batch, not per deal: at batch rates a rendered line per deal costs more than the
    deal's SQL. Each deal's decision is durable in ``deal_attributions`` and on its conversions."""
    methods = Counter(d.new_decision[0].method for d in deals.values() if d.new_decision is not None)
    if methods:
        log.info("deals_attributed", count=sum(methods.values()), methods=dict(sorted(methods.items())),
                 waiting=sum(1 for d in deals.values() if d.pending))


async def _write(ctx: Context, deals: dict[Key, Deal]) -> None:
    """The batch's net effect on PostgreSQL, one statement per kind of change."""
    await decisions.store_many(ctx.conn, [(*key, *d.new_decision) for key, d in deals.items()
                                          if d.new_decision is not None], ctx.now)
    cleared = [key for key, d in deals.items() if d.cleared]
    if cleared:
        await ctx.conn.execute(CLEAR_SQL, [t for t, _ in cleared], [d for _, d in cleared])
    repointed = [(key[0], p.event.event_id, p.waiting_ad) for key, d in deals.items() for p in d.pending if p.repointed]
    if repointed:
        await ctx.conn.execute(REPOINT_SQL, *[list(column) for column in zip(*repointed, strict=True)])
    added = [p for d in deals.values() for p in d.pending if not p.stored]
    if added:
        await _add_pending(ctx, added)


async def _add_pending(ctx: Context, added: list[Pending]) -> None:
    deadline = ctx.now + timedelta(seconds=ctx.config.pending_seconds)
    rows = [(
        p.event.tenant_id, p.event.deal_id, p.event.event_id, p.event.occurred_at, encode(p.event).decode(),
        p.event.contact.click_id, p.event.contact.fbclid, p.event.contact.utm_ad_id, p.event.contact.email_hash,
        p.event.contact.device_id, p.event.contact.ip_hash, p.event.contact.user_agent_hash, p.waiting_ad,
    ) for p in added]
    await ctx.conn.execute(ADD_PENDING_SQL, *[list(column) for column in zip(*rows, strict=True)], deadline)
