"""Apply attributed stage changes to their deals: valuation state, ledger rows, the events to publish.

The caller runs this inside the transaction that claimed the conversions in the inbox, so a
redelivered conversion changes nothing. The deal's state row is locked (``FOR UPDATE``) so two
processes can never credit the same deal from the same starting point. The ledger is keyed by
the ``RevenueRecognized`` event id, derived from the conversion's, so even a replay that skipped
the inbox could not insert a credit twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime

import structlog

from schemas.events import ConversionAttributed, RevenueRecognized
from schemas.money import SignedMoney
from schemas.pipeline import StageValues, canonical_stage
from streams.core.controls.stage_values import get_stage_mappings, get_stage_values
from streams.core.db import Conn
from streams.revenue import valuation
from streams.revenue.valuation import DealState

log = structlog.get_logger("roasloop.revenue")


def revenue_event_id(conversion_event_id: str) -> str:
    candidate = f"rev:{conversion_event_id}"
    return candidate if len(candidate) <= 200 else "rev:" + hashlib.sha256(conversion_event_id.encode()).hexdigest()


async def load_state(conn: Conn, tenant_id: str, deal_id: str) -> DealState | None:
    return (await load_states(conn, [(tenant_id, deal_id)])).get((tenant_id, deal_id))


async def load_states(conn: Conn, deals: Sequence[tuple[str, str]]) -> dict[tuple[str, str], DealState]:
    """The stored state of each (tenant, deal), locked ``FOR UPDATE`` in one round trip.

    Rows are locked in key order, so two processes locking overlapping batches never deadlock."""
    keys = sorted(set(deals))
    rows = await conn.fetch(
        "SELECT tenant_id, deal_id, credited_minor, highest_value_minor, status, won_amount_minor, terminal_at"
        " FROM deal_credits WHERE (tenant_id, deal_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))"
        " ORDER BY tenant_id, deal_id FOR UPDATE",
        [t for t, _ in keys], [d for _, d in keys],
    )
    return {(r["tenant_id"], r["deal_id"]): DealState(
        credited_minor=r["credited_minor"], highest_value_minor=r["highest_value_minor"], status=r["status"],
        won_amount_minor=r["won_amount_minor"], terminal_at=r["terminal_at"]) for r in rows}


_SAVE_STATE = (
    "INSERT INTO deal_credits (tenant_id, deal_id, credited_minor, highest_value_minor, status, won_amount_minor,"
    " terminal_at, currency, confidence, group_id, campaign_id, adset_id, ad_id, updated_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    " ON CONFLICT (tenant_id, deal_id) DO UPDATE SET credited_minor = $3, highest_value_minor = $4,"
    " status = $5, won_amount_minor = $6, terminal_at = $7, updated_at = $14"
)
_INSERT_CREDIT = (
    "INSERT INTO revenue_ledger (event_id, tenant_id, deal_id, group_id, campaign_id, adset_id, ad_id, kind,"
    " amount_minor, currency, credited_total_minor, stage_id, confidence, conversion_event_id, occurred_at, day,"
    " click_occurred_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
)


def _state_row(event: ConversionAttributed, state: DealState, currency: str, now: datetime) -> tuple[object, ...]:
    """A deal's row: its state, and the attribution of the event that first saved it (kept on update)."""
    return (event.tenant_id, event.deal_id, state.credited_minor, state.highest_value_minor, state.status,
            state.won_amount_minor, state.terminal_at, currency, event.confidence,
            event.group_id or event.campaign_id, event.campaign_id, event.adset_id, event.ad_id, now)


def _credit_row(revenue: RevenueRecognized) -> tuple[object, ...]:
    return (revenue.event_id, revenue.tenant_id, revenue.deal_id, revenue.group_id, revenue.campaign_id,
            revenue.adset_id, revenue.ad_id, revenue.kind, revenue.amount.amount_minor, revenue.amount.currency,
            revenue.credited_total_minor, revenue.stage_id, revenue.confidence, revenue.conversion_event_id,
            revenue.occurred_at, revenue.occurred_at.astimezone(UTC).date(), revenue.click_occurred_at)


def _attributed(event: ConversionAttributed) -> bool:
    return event.method != "none" and bool(event.ad_id and event.adset_id and event.campaign_id)


async def apply_conversion(conn: Conn, event: ConversionAttributed, now: datetime,
                           default_currency: str = "USD") -> RevenueRecognized | None:
    """Value one conversion; returns the revenue event to publish, or None when it credits nothing."""
    return (await apply_conversions(conn, [event], now, default_currency))[0]


async def apply_conversions(conn: Conn, events: Sequence[ConversionAttributed], now: datetime,
                            default_currency: str = "USD") -> list[RevenueRecognized | None]:
    """Value a batch of conversions in order; per event, the revenue event to publish or None.

    Unattributed conversions (method ``none``) and unmapped stage ids credit nothing. A deal
    amount in another currency than the tenant's is ignored (the won stage value applies):
    amounts are never converted at a guessed rate.

    The batch costs a fixed number of round trips, not six per event: each tenant's mappings and
    values are read once, every deal's state is loaded (and locked) in one query and carried in
    memory from one of its stage changes to the next, and the states and credits are written with
    one ``executemany`` each. Each deal's row ends as the one-at-a-time path left it: its attribution
    from the first event that saved it, its state from the last.
    """
    attributed = [e for e in events if _attributed(e)]
    tenants = {e.tenant_id for e in attributed}
    mappings = {t: await get_stage_mappings(conn, t) for t in sorted(tenants)}
    values_of: dict[str, StageValues] = {}
    states = await load_states(conn, [(e.tenant_id, e.deal_id) for e in attributed]) if attributed else {}
    first_saved: dict[tuple[str, str], ConversionAttributed] = {}
    changed: set[tuple[str, str]] = set()
    credits: list[RevenueRecognized] = []
    out: list[RevenueRecognized | None] = []
    for event in events:
        if not _attributed(event):
            out.append(None)
            continue
        stage = canonical_stage(event.stage_id, mappings[event.tenant_id])
        if stage is None:
            log.info("stage_not_valued", tenant_id=event.tenant_id, stage_id=event.stage_id)
            out.append(None)
            continue
        if event.tenant_id not in values_of:
            values_of[event.tenant_id] = await get_stage_values(conn, event.tenant_id, default_currency)
        values = values_of[event.tenant_id]
        amount = event.amount.amount_minor if event.amount and event.amount.currency == values.currency else None
        if event.amount is not None and amount is None:
            log.warning("deal_amount_currency_ignored", tenant_id=event.tenant_id, deal_id=event.deal_id,
                        amount_currency=event.amount.currency, tenant_currency=values.currency)
        key = (event.tenant_id, event.deal_id)
        stored = states.get(key)
        before = stored or DealState()
        after, credit = valuation.apply(before, stage, values, event.confidence, amount, event.occurred_at)
        if stored is None or after != before:
            first_saved.setdefault(key, event)
            changed.add(key)
            states[key] = after
        if credit is None:
            out.append(None)
            continue
        revenue = RevenueRecognized(
            event_id=revenue_event_id(event.event_id),
            tenant_id=event.tenant_id,
            occurred_at=event.occurred_at,
            produced_at=now,
            deal_id=event.deal_id,
            group_id=event.group_id or event.campaign_id,
            campaign_id=event.campaign_id,
            adset_id=event.adset_id,
            ad_id=event.ad_id,
            kind=credit.kind,
            amount=SignedMoney(amount_minor=credit.amount_minor, currency=values.currency),
            credited_total_minor=credit.credited_total_minor,
            stage_id=event.stage_id,
            confidence=event.confidence,
            conversion_event_id=event.event_id,
            click_occurred_at=event.click_occurred_at,
        )
        credits.append(revenue)
        out.append(revenue)
    if changed:
        await conn.executemany(_SAVE_STATE, [
            _state_row(first_saved[key], states[key], values_of[key[0]].currency, now) for key in sorted(changed)])
    if credits:
        await conn.executemany(_INSERT_CREDIT, [_credit_row(r) for r in credits])
    return out
