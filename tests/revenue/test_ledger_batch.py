"""A batch of stage changes leaves the ledger and the deals' rows exactly as one transaction per change does.

``apply_conversions`` carries each deal's state in memory from one of its changes to the next and
writes once per deal; interleaved deals, repeated stages, unattributed and unmapped changes in one
batch must still credit the same amounts, in the same order, to the same totals.
"""

from __future__ import annotations

import itertools
from typing import Any

import asyncpg
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from schemas import ConversionAttributed
from streams.revenue.ledger import apply_conversion, apply_conversions
from tests.revenue.factories import T0, conversion, unattributed

STAGE_IDS = ("appointmentscheduled", "contractsent", "closedwon", "closedlost", "not-a-mapped-stage")
_runs = itertools.count(1)

changes = st.lists(
    st.tuples(st.integers(0, 2), st.sampled_from(STAGE_IDS), st.booleans(), st.booleans()),
    min_size=1, max_size=12,
)


def events(prefix: str, plan: list[tuple[int, str, bool, bool]]) -> list[ConversionAttributed]:
    out = []
    for n, (deal, stage, attributed, with_amount) in enumerate(plan):
        deal_id = f"{prefix}-d{deal}"
        out.append(conversion(deal_id, stage, n=n, event_id=f"{prefix}:{n}", confidence=0.7,
                              amount=250_000 + n if with_amount and stage == "closedwon" else None)
                   if attributed else unattributed(deal_id, stage, n).model_copy(update={"event_id": f"{prefix}:{n}"}))
    return out


async def rows(pool: asyncpg.Pool[Any], prefix: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    ledger = await pool.fetch(
        "SELECT replace(deal_id, $1, '') AS deal, kind, amount_minor, credited_total_minor, stage_id, confidence"
        " FROM revenue_ledger WHERE deal_id LIKE $1 || '-%' ORDER BY split_part(conversion_event_id, ':', 2)::int",
        prefix)
    deals = await pool.fetch(
        "SELECT replace(deal_id, $1, '') AS deal, credited_minor, highest_value_minor, status, won_amount_minor,"
        " terminal_at, confidence, adset_id FROM deal_credits WHERE deal_id LIKE $1 || '-%' ORDER BY deal_id",
        prefix)
    return [tuple(r) for r in ledger], [tuple(r) for r in deals]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=changes)
@example(plan=[(0, "appointmentscheduled", True, False), (1, "closedwon", True, True),
               (0, "contractsent", True, False), (0, "closedlost", True, False)])
async def test_a_batch_credits_what_one_change_at_a_time_credits(db_pool: asyncpg.Pool[Any],
                                                                  plan: list[tuple[int, str, bool, bool]]) -> None:
    run = next(_runs)
    single, batched = f"one{run}", f"batch{run}"
    one_by_one: list[Any] = []
    for event in events(single, plan):
        async with db_pool.acquire() as conn, conn.transaction():
            one_by_one.append(await apply_conversion(conn, event, T0))
    async with db_pool.acquire() as conn, conn.transaction():
        together = await apply_conversions(conn, events(batched, plan), T0)

    assert [r is None for r in together] == [r is None for r in one_by_one]
    assert [(r.kind, r.amount, r.credited_total_minor) for r in together if r is not None] == \
        [(r.kind, r.amount, r.credited_total_minor) for r in one_by_one if r is not None]
    assert await rows(db_pool, batched) == await rows(db_pool, single)
    # and both are right, not merely alike: each deal's credits add up to what its row says it holds
    unbalanced = await db_pool.fetch(
        "SELECT d.deal_id FROM deal_credits d LEFT JOIN revenue_ledger l USING (tenant_id, deal_id)"
        " WHERE d.deal_id LIKE $1 || '-%' GROUP BY d.deal_id, d.credited_minor"
        " HAVING coalesce(sum(l.amount_minor), 0) <> d.credited_minor", batched)
    assert unbalanced == []
