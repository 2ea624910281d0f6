"""Property: whatever the stage sequence and duplicates, a deal is credited exactly its level.

Runs the real ledger (``apply_conversion``: inbox claim, valuation, state row, ledger row) on the
real PostgreSQL. For random sequences of stage changes - with redeliveries (same event id) and
repeated stages (new event ids) mixed in - the ledger sum and the stored state must both equal:
the deal amount (or won value) if its last close was a win, zero if a loss, else the value of
the highest open stage reached - each times the confidence.
"""

from __future__ import annotations

import itertools
from typing import Any

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.pipeline import StageValues
from streams.core import inbox
from streams.revenue.ledger import apply_conversion
from streams.revenue.valuation import weighted
from tests.revenue.factories import T0, conversion

USD = StageValues.defaults("USD")
STAGE_IDS = {"lead": "appointmentscheduled", "appointment": "contractsent", "won": "closedwon",
             "lost": "closedlost"}
_deals = itertools.count(1)

steps = st.lists(
    st.tuples(st.sampled_from(["lead", "appointment", "won", "lost"]), st.booleans()),
    min_size=1, max_size=8,
)


def expected_total(sequence: list[str], amount: int | None, confidence: float) -> int:
    closes = [s for s in sequence if s in ("won", "lost")]
    if closes:
        return 0 if closes[-1] == "lost" else weighted(amount if amount is not None else USD.won, confidence)
    open_values = [USD.of(s) for s in sequence if s in ("lead", "appointment")]  # type: ignore[arg-type]
    return weighted(max(open_values, default=0), confidence)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    sequence=steps,
    amount=st.one_of(st.none(), st.integers(min_value=0, max_value=10**9)),
    confidence=st.sampled_from([1.0, 0.9, 0.7, 0.467, 0.35]),
)
async def test_credited_total_always_equals_the_level_of_the_deal(
    db_pool: asyncpg.Pool[Any], sequence: list[tuple[str, bool]], amount: int | None, confidence: float
) -> None:
    deal = f"deal-{next(_deals)}"
    events = []
    for n, (stage, redeliver) in enumerate(sequence):
        event = conversion(deal, STAGE_IDS[stage], n=n, confidence=confidence,
                           amount=amount if stage == "won" else None)
        events.append(event)
        if redeliver:
            events.append(event)  # the same event again: the inbox must drop it
    for event in events:
        async with db_pool.acquire() as conn, conn.transaction():
            if await inbox.claim(conn, "revenue", event.event_id):
                await apply_conversion(conn, event, T0)

    want = expected_total([s for s, _ in sequence], amount, confidence)
    ledger_sum = await db_pool.fetchval(
        "SELECT coalesce(sum(amount_minor), 0) FROM revenue_ledger WHERE deal_id = $1", deal
    )
    stored = await db_pool.fetchval("SELECT credited_minor FROM deal_credits WHERE deal_id = $1", deal)
    assert ledger_sum == stored == want
    last_total = await db_pool.fetchval(
        "SELECT credited_total_minor FROM revenue_ledger WHERE deal_id = $1 ORDER BY occurred_at DESC LIMIT 1", deal
    )
    assert last_total in (None, want)
