"""Apply one attributed stage change to a deal: valuation state, ledger row, the event to publish.

The caller runs this inside the transaction that claimed the conversion in the inbox, so a
redelivered conversion changes nothing. The deal's state row is locked (``FOR UPDATE``) so two
processes can never credit the same deal from the same starting point. The ledger is keyed by
the ``RevenueRecognized`` event id, derived from the conversion's, so even a replay that skipped
the inbox could not insert a credit twice.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import structlog

from schemas.events import ConversionAttributed, RevenueRecognized
from schemas.money import SignedMoney
from schemas.pipeline import canonical_stage
from streams.core.controls.stage_values import get_stage_mappings, get_stage_values
from streams.core.db import Conn
from streams.revenue import valuation
from streams.revenue.valuation import DealState

log = structlog.get_logger("roasloop.revenue")


def revenue_event_id(conversion_event_id: str) -> str:
    candidate = f"rev:{conversion_event_id}"
    return candidate if len(candidate) <= 200 else "rev:" + hashlib.sha256(conversion_event_id.encode()).hexdigest()


async def load_state(conn: Conn, tenant_id: str, deal_id: str) -> DealState | None:
    row = await conn.fetchrow(
        "SELECT credited_minor, highest_value_minor, status, won_amount_minor, terminal_at FROM deal_credits"
        " WHERE tenant_id = $1 AND deal_id = $2 FOR UPDATE",
        tenant_id, deal_id,
    )
    if row is None:
        return None
    return DealState(credited_minor=row["credited_minor"], highest_value_minor=row["highest_value_minor"],
                     status=row["status"], won_amount_minor=row["won_amount_minor"], terminal_at=row["terminal_at"])


async def _save_state(conn: Conn, event: ConversionAttributed, state: DealState, currency: str,
                      now: datetime) -> None:
    await conn.execute(
        "INSERT INTO deal_credits (tenant_id, deal_id, credited_minor, highest_value_minor, status, won_amount_minor,"
        " terminal_at, currency, confidence, group_id, campaign_id, adset_id, ad_id, updated_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        " ON CONFLICT (tenant_id, deal_id) DO UPDATE SET credited_minor = $3, highest_value_minor = $4,"
        " status = $5, won_amount_minor = $6, terminal_at = $7, updated_at = $14",
        event.tenant_id, event.deal_id, state.credited_minor, state.highest_value_minor, state.status,
        state.won_amount_minor, state.terminal_at, currency, event.confidence, event.group_id or event.campaign_id,
        event.campaign_id, event.adset_id, event.ad_id, now,
    )


async def apply_conversion(conn: Conn, event: ConversionAttributed, now: datetime,
                           default_currency: str = "USD") -> RevenueRecognized | None:
    """Value one conversion; returns the revenue event to publish, or None when it credits nothing.

    Unattributed conversions (method ``none``) and unmapped stage ids credit nothing. A deal
    amount in another currency than the tenant's is ignored (the won stage value applies):
    amounts are never converted at a guessed rate.
    """
    if event.method == "none" or not (event.ad_id and event.adset_id and event.campaign_id):
        return None
    stage = canonical_stage(event.stage_id, await get_stage_mappings(conn, event.tenant_id))
    if stage is None:
        log.info("stage_not_valued", tenant_id=event.tenant_id, stage_id=event.stage_id)
        return None
    values = await get_stage_values(conn, event.tenant_id, default_currency)
    amount = event.amount.amount_minor if event.amount and event.amount.currency == values.currency else None
    if event.amount is not None and amount is None:
        log.warning("deal_amount_currency_ignored", tenant_id=event.tenant_id, deal_id=event.deal_id,
                    amount_currency=event.amount.currency, tenant_currency=values.currency)
    stored = await load_state(conn, event.tenant_id, event.deal_id)
    before = stored or DealState()
    after, credit = valuation.apply(before, stage, values, event.confidence, amount, event.occurred_at)
    if stored is None or after != before:
        await _save_state(conn, event, after, values.currency, now)
    if credit is None:
        return None
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
    await conn.execute(
        "INSERT INTO revenue_ledger (event_id, tenant_id, deal_id, group_id, campaign_id, adset_id, ad_id, kind,"
        " amount_minor, currency, credited_total_minor, stage_id, confidence, conversion_event_id, occurred_at, day,"
        " click_occurred_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
        revenue.event_id, revenue.tenant_id, revenue.deal_id, revenue.group_id, revenue.campaign_id,
        revenue.adset_id, revenue.ad_id, revenue.kind, credit.amount_minor, values.currency,
        credit.credited_total_minor, revenue.stage_id, revenue.confidence, revenue.conversion_event_id,
        revenue.occurred_at, revenue.occurred_at.astimezone(UTC).date(), revenue.click_occurred_at,
    )
    return revenue
