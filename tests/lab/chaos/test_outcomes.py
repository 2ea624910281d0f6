"""The chaos run's outcome checks tell a right ending from a wrong one (so a FAIL is a finding)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from bench.chaos.http_feed import Delivery, Feed
from bench.chaos.outcomes import check_final_budgets, check_request_outcomes, check_retried
from schemas.events import BudgetChangeRequested
from schemas.money import Money

T0 = datetime(2026, 5, 1, tzinfo=UTC)
INTERRUPTED = "interrupted before Meta confirmed; Meta has 10000, not 10200: not re-applied"


async def _history(pool: asyncpg.Pool[Any], rows: list[tuple[str, str, str, int | None, str | None]]
                   ) -> dict[str, BudgetChangeRequested]:
    """(change_id, entity, status, target, error) in request order -> the requests, rows written."""
    requests = {}
    for n, (change_id, entity, status, target, error) in enumerate(rows):
        at = T0 + timedelta(minutes=n)
        requests[change_id] = BudgetChangeRequested(
            event_id=f"e-{change_id}", tenant_id="t1", occurred_at=at, change_id=change_id, group_id="g",
            campaign_id="c", entity_id=entity, requested_budget=Money(amount_minor=target or 0, currency="USD"))
        await pool.execute(
            "INSERT INTO ad_change_history (change_id, event_id, tenant_id, group_id, campaign_id, entity_id,"
            " entity_level, status, currency, requested_budget_minor, target_budget_minor, applied_budget_minor,"
            " error, requested_at, decided_at) VALUES ($1, $2, 't1', 'g', 'c', $3, 'adset', $4, 'USD', $5, $5,"
            " $6, $7, $8, $8)",
            change_id, f"e-{change_id}", entity, status, target or 0,
            target if status in ("completed", "clamped") else None, error, at)
    return requests


async def test_an_entity_ending_on_a_change_failed_by_a_rebalance_fails_both_checks(db_pool: asyncpg.Pool[Any]
                                                                                     ) -> None:
    requests = await _history(db_pool, [("a1", "a", "completed", 10_500, None),
                                        ("a2", "a", "failed", 10_200, INTERRUPTED)])
    async with db_pool.acquire() as conn:
        outcome = await check_request_outcomes(conn, requests)
        final = await check_final_budgets(conn, requests, {"a": 10_500}, 10_000)
    assert not outcome.passed and "1 failed by interruption" in outcome.detail
    assert not final.passed and "a ends on a failed request" in final.detail


async def test_superseded_and_blocked_requests_leave_the_last_applied_budget_as_the_right_one(
        db_pool: asyncpg.Pool[Any]) -> None:
    requests = await _history(db_pool, [("b1", "b", "completed", 11_000, None),
                                        ("b2", "b", "superseded", 12_000, None),
                                        ("b3", "b", "blocked", 13_000, None),
                                        ("c1", "c", "clamped", 9_000, None)])
    async with db_pool.acquire() as conn:
        right = await check_final_budgets(conn, requests, {"b": 11_000, "c": 9_000}, 10_000)
        wrong = await check_final_budgets(conn, requests, {"b": 13_000, "c": 9_000}, 10_000)
        outcome = await check_request_outcomes(conn, requests)
    assert right.passed, right.detail
    assert not wrong.passed and "b: Meta 13000, last request [11000]" in wrong.detail
    assert outcome.passed, outcome.detail


def test_a_delivery_answered_503_passes_only_once_a_retry_landed() -> None:
    landed = Delivery(events=[], statuses=[503, None, 200])
    stranded = Delivery(events=[], statuses=[503, 503])
    assert check_retried(Feed(deliveries=[landed])).passed
    failed = check_retried(Feed(deliveries=[landed, stranded]))
    assert not failed.passed and "1 never landed" in failed.detail
