"""The sampler's PostgreSQL state: facts in, in the event's transaction; a GroupState out.

Every write here runs inside the transaction that claims the event in the inbox, so a redelivered
event changes nothing and a crash between the write and the offset commit loses nothing. The
in-memory :class:`~streams.sampler.state.GroupState` is never the source of truth: it is rebuilt
from these rows whenever a group is touched, so a partition that moves to another instance after
a rebalance needs no hand-over - the new owner reads the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np

from schemas.events import EvidenceMark, RevenueRecognized, SpendReported
from streams.core.db import Conn
from streams.sampler.delays import DelayModel
from streams.sampler.inflight import DealCredit, DealRecord
from streams.sampler.model import Posterior
from streams.sampler.state import DayFacts, EntityInfo, GroupState, ModelConfig, age_days


@dataclass(frozen=True)
class Position:
    """Where an event was read: catalog topic name, partition, offset."""

    topic: str
    partition: int
    offset: int

    @property
    def key(self) -> str:
        return f"{self.topic}:{self.partition}"


def evidence_marks(evidence: dict[str, int]) -> list[EvidenceMark]:
    """A group's stored marks (``{"revenue.v1:3": 120}``, keyed by ``Position.key``) as a decision's, sorted."""
    marks = []
    for key, next_offset in evidence.items():
        topic, _, partition = key.rpartition(":")
        marks.append(EvidenceMark(topic=topic, partition=int(partition), next_offset=int(next_offset)))
    return sorted(marks, key=lambda m: (m.topic, m.partition))


async def touch_group(conn: Conn, tenant_id: str, group_id: str, campaign_id: str, currency: str,
                      at: datetime, position: Position | None = None, count: int = 1) -> int:
    """Create or refresh the group row for ``count`` events; return the events seen since its last decision.

    ``position`` advances the group's evidence mark for that partition (never backwards: a
    redelivered older record does not move it)."""
    key, next_offset = (position.key, position.offset + 1) if position else (None, None)
    return int(await conn.fetchval(
        "INSERT INTO sampler_groups"
        " (tenant_id, group_id, campaign_id, currency, events_since_decision, last_event_at, evidence)"
        " VALUES ($1, $2, $3, $4, $8, $5,"
        "  CASE WHEN $6::text IS NULL THEN '{}'::jsonb ELSE jsonb_build_object($6::text, $7::bigint) END)"
        " ON CONFLICT (tenant_id, group_id) DO UPDATE SET"
        " events_since_decision = sampler_groups.events_since_decision + $8,"
        " last_event_at = GREATEST(sampler_groups.last_event_at, $5), currency = $4,"
        " evidence = CASE WHEN $6::text IS NULL THEN sampler_groups.evidence ELSE sampler_groups.evidence"
        "  || jsonb_build_object($6::text, GREATEST(COALESCE((sampler_groups.evidence->>$6::text)::bigint, 0),"
        "  $7::bigint)) END"
        " RETURNING events_since_decision",
        tenant_id, group_id, campaign_id, currency, at, key, next_offset, count,
    ))


ENTITY_SQL = ("INSERT INTO sampler_entities (tenant_id, group_id, entity_id, campaign_id, min_budget_minor)"
              " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING")
REPORT_DAY_SQL = ("UPDATE sampler_entities SET last_report_day = $4,"
                  " daily_budget_minor = COALESCE($5, daily_budget_minor)"
                  " WHERE tenant_id = $1 AND group_id = $2 AND entity_id = $3"
                  " AND (last_report_day IS NULL OR last_report_day <= $4)")
SPEND_DAY_SQL = ("INSERT INTO sampler_entity_days"
                 " (tenant_id, group_id, entity_id, day, spend_minor, clicks, impressions, results)"
                 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (tenant_id, group_id, entity_id, day) DO UPDATE"
                 " SET spend_minor = $5, clicks = $6, impressions = $7, results = $8")
REVENUE_DAY_SQL = ("INSERT INTO sampler_entity_days"
                   " (tenant_id, group_id, entity_id, day, deals, revenue_minor, jump_abs, jump_sq)"
                   " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (tenant_id, group_id, entity_id, day)"
                   " DO UPDATE SET deals = sampler_entity_days.deals + $5,"
                   " revenue_minor = sampler_entity_days.revenue_minor + $6,"
                   " jump_abs = sampler_entity_days.jump_abs + $7, jump_sq = sampler_entity_days.jump_sq + $8")
DEAL_SQL = ("INSERT INTO sampler_deals (tenant_id, group_id, deal_id, entity_id, start_at, cohort_day, credited_minor,"
            " appointment_at, resolved_at) VALUES ($1, $2, $3, $4, $5, $6, $7,"
            " CASE WHEN $9::boolean THEN NULL WHEN $10::boolean THEN $8::timestamptz END,"
            " CASE WHEN $9::boolean THEN $8::timestamptz END)"
            " ON CONFLICT (tenant_id, group_id, deal_id) DO UPDATE SET credited_minor = $7,"
            " resolved_at = CASE WHEN $9::boolean THEN GREATEST(sampler_deals.resolved_at, $8::timestamptz)"
            " ELSE sampler_deals.resolved_at END,"
            " appointment_at = CASE WHEN NOT $9::boolean AND $10::boolean"
            " THEN COALESCE(sampler_deals.appointment_at, $8::timestamptz) ELSE sampler_deals.appointment_at END")
"""One deal's record, as :meth:`~streams.sampler.inflight.DealRecord.observe` moves it in memory."""
LAG_SQL = ("INSERT INTO sampler_delay_lags (tenant_id, group_id, kind, lag_days, amount) VALUES ($1, $2, $3, $4, $5)"
           " ON CONFLICT (tenant_id, group_id, kind, lag_days) DO UPDATE SET amount = sampler_delay_lags.amount + $5")


async def apply_facts(conn: Conn, events: Sequence[RevenueRecognized | SpendReported], model: ModelConfig,
                      min_budget_minor: int) -> None:
    """Write a batch's facts: spend is a per-(entity, day) snapshot that replaces the day's delivery,
    revenue a signed credit summed on its click's day (a deal's first credit also counts a deal).

    Each statement runs over the batch in event order (``executemany``), so first-wins entity rows
    and float sums come out exactly as one event at a time; spend (a snapshot of its columns) and
    revenue (sums of the others) touch different columns of a day's row, so their relative order
    does not matter.
    """
    spends = [e for e in events if isinstance(e, SpendReported)]
    revenues = [e for e in events if isinstance(e, RevenueRecognized)]
    await conn.executemany(ENTITY_SQL, [
        (e.tenant_id, e.group_id, e.entity_id if isinstance(e, SpendReported) else e.adset_id, e.campaign_id,
         min_budget_minor) for e in events])
    if spends:
        await conn.executemany(REPORT_DAY_SQL, [
            (e.tenant_id, e.group_id, e.entity_id, e.day, e.daily_budget_minor) for e in spends])
        await conn.executemany(SPEND_DAY_SQL, [
            (e.tenant_id, e.group_id, e.entity_id, e.day, e.spend.amount_minor, e.clicks, e.impressions, e.leads)
            for e in spends])
    if not revenues:
        return
    days, lags, deals = [], [], []
    bucket = DelayModel(horizon_days=model.horizon_days).bucket
    for e in revenues:
        amount, new_deal = e.amount.amount_minor, first_credit(e)
        cohort_at = e.click_occurred_at or e.occurred_at
        days.append((e.tenant_id, e.group_id, e.adset_id, cohort_at.astimezone(UTC).date(), int(new_deal), amount,
                     abs(amount), float(amount) ** 2))
        deal = deal_credit(e)
        deals.append((e.tenant_id, e.group_id, e.deal_id, e.adset_id, cohort_at, cohort_at.astimezone(UTC).date(),
                      e.credited_total_minor, e.occurred_at, deal.resolves, deal.appointment))
        lag = bucket(age_days(e.occurred_at, cohort_at))
        lags.append((e.tenant_id, e.group_id, "value", lag, float(amount)))
        if new_deal:
            lags.append((e.tenant_id, e.group_id, "deals", lag, 1.0))
    await conn.executemany(REVENUE_DAY_SQL, days)
    await conn.executemany(DEAL_SQL, deals)
    await conn.executemany(LAG_SQL, lags)


def deal_credit(event: RevenueRecognized) -> DealCredit:
    """What the event says about its deal: open or resolved, at which stage, credited how much."""
    return DealCredit(event.deal_id, event.kind, event.stage_id, event.credited_total_minor)


def first_credit(event: RevenueRecognized) -> bool:
    """The deal's total was zero before this credit: it counts as a new deal (a conversion)."""
    return event.amount.amount_minor > 0 and event.credited_total_minor == event.amount.amount_minor


@dataclass(frozen=True)
class GroupRow:
    tenant_id: str
    group_id: str
    campaign_id: str
    currency: str
    total_budget_minor: int | None
    """The operator's total for the group (``group_budgets``), or None: split the reported budgets."""
    events_since_decision: int
    last_decided_at: datetime | None
    evidence: dict[str, int] = field(default_factory=dict)
    """Per ``topic:partition``, the offset below which every one of the group's records is applied."""


GROUP_ROW_SQL = (
    "SELECT g.*, b.total_daily_budget_minor AS total_budget_minor FROM sampler_groups g"
    " LEFT JOIN group_budgets b ON b.tenant_id = g.tenant_id AND b.group_id = g.group_id"
)


async def group_row(conn: Conn, tenant_id: str, group_id: str) -> GroupRow | None:
    row = await conn.fetchrow(GROUP_ROW_SQL + " WHERE g.tenant_id = $1 AND g.group_id = $2", tenant_id, group_id)
    return None if row is None else _group(row)


def _group(row: Any) -> GroupRow:
    return GroupRow(row["tenant_id"], row["group_id"], row["campaign_id"], row["currency"].strip(),
                    row["total_budget_minor"], row["events_since_decision"], row["last_decided_at"],
                    dict(row["evidence"] or {}))


async def all_groups(conn: Conn) -> list[GroupRow]:
    return [_group(r) for r in await conn.fetch(GROUP_ROW_SQL + " ORDER BY g.tenant_id, g.group_id")]


async def load_group(conn: Conn, tenant_id: str, group_id: str, model: ModelConfig,
                     since: date | None = None, row: GroupRow | None = None) -> GroupState:
    """Rebuild a group's in-memory state from its rows (``row``: its group row, if already read)."""
    row = row or await group_row(conn, tenant_id, group_id)
    state = GroupState.for_model(tenant_id, group_id, model, row.currency if row else "USD",
                                 row.total_budget_minor if row else None)
    for r in await conn.fetch("SELECT * FROM sampler_entities WHERE tenant_id = $1 AND group_id = $2",
                              tenant_id, group_id):
        state.entities[r["entity_id"]] = EntityInfo(r["entity_id"], r["campaign_id"], r["min_budget_minor"],
                                                    r["daily_budget_minor"], r["last_report_day"])
    for r in await conn.fetch(
        "SELECT * FROM sampler_entity_days WHERE tenant_id = $1 AND group_id = $2 AND day >= $3",
        tenant_id, group_id, since or date(1970, 1, 1),
    ):
        state.days.setdefault(r["entity_id"], {})[r["day"]] = DayFacts(
            r["spend_minor"], r["clicks"], r["impressions"], r["results"], r["deals"], r["revenue_minor"],
            r["jump_abs"], r["jump_sq"],
        )
    for r in await conn.fetch("SELECT * FROM sampler_deals WHERE tenant_id = $1 AND group_id = $2 AND cohort_day >= $3",
                              tenant_id, group_id, since or date(1970, 1, 1)):
        state.deals[r["deal_id"]] = DealRecord(r["entity_id"], r["start_at"], r["credited_minor"],
                                               r["appointment_at"], r["resolved_at"])
    for r in await conn.fetch("SELECT kind, lag_days, amount FROM sampler_delay_lags WHERE tenant_id = $1"
                              " AND group_id = $2", tenant_id, group_id):
        target = state.delays if r["kind"] == "value" else state.deal_delays
        target.lag_value[min(r["lag_days"], target.horizon_days - 1)] += r["amount"]
    return state


async def save_posterior(conn: Conn, state: GroupState, posterior: Posterior, at: datetime) -> None:
    """Store every entity's posterior parameters (in the event's transaction)."""
    if not posterior.entity_ids:
        return
    await conn.executemany(
        "UPDATE sampler_entities SET rate_shape = $4, rate_rate = $5, value_shape = $6, value_rate = $7,"
        " posterior_mean = $8, posterior_at = $9 WHERE tenant_id = $1 AND group_id = $2 AND entity_id = $3",
        [
            (state.tenant_id, state.group_id, e, float(a), float(b), float(c), float(d), float(m), at)
            for e, a, b, c, d, m in zip(posterior.entity_ids, posterior.rate_shape, posterior.rate_rate,
                                        posterior.value_shape, posterior.value_rate, np.asarray(posterior.mean),
                                        strict=True)
        ],
    )


async def mark_decided(conn: Conn, tenant_id: str, group_id: str, at: datetime) -> None:
    await conn.execute(
        "UPDATE sampler_groups SET events_since_decision = 0, last_decided_at = $3"
        " WHERE tenant_id = $1 AND group_id = $2", tenant_id, group_id, at,
    )


