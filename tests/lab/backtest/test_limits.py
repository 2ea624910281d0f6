"""The backtest's guardrail report follows the limits: a changed setting, a tenant/campaign override, an entity cap."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from schemas.events import AllocationDecided, EntityAllocation
from schemas.topics import topic_for
from streams.core.controls.limit_overrides import save_entity_bounds, save_override
from streams.core.controls.limits import GuardrailSettings, LimitsBook, guardrail_settings
from streams.lab.backtest.engine import replay_records
from streams.lab.backtest.policies import policy_by_name
from streams.lab.backtest.records import ReplayRecord, to_ms
from streams.lab.backtest.report import summary
from tests.lab.backtest.factories import at, decision


def _decided(hours: float, group: str, budgets: dict[str, tuple[int, int]]) -> AllocationDecided:
    """A logged decision moving each entity from its previous budget to a new one."""
    event = decision(at(hours), {e: 0.5 for e in budgets}, {e: new for e, (_, new) in budgets.items()}, group=group)
    return event.model_copy(update={"allocations": [
        EntityAllocation(entity_id=e, share=0.5, budget_minor=new, previous_budget_minor=old)
        for e, (old, new) in budgets.items()]})


def _stream() -> list[ReplayRecord]:
    """Two campaigns, each moving ``a`` +20% now and +20% again 7 h later: within a 6 h window's
    limit both times, but the second move breaks a 24 h window's (40% of the first budget)."""
    events = [_decided(1, group, {f"a-{group}": (10_000, 12_000), f"b-{group}": (10_000, 10_000)})
              for group in ("g1", "g2")]
    events += [_decided(8, group, {f"a-{group}": (12_000, 14_400), f"b-{group}": (10_000, 10_000)})
               for group in ("g1", "g2")]
    return [ReplayRecord(topic_for(e).name, 0, i, to_ms(e.occurred_at), e) for i, e in enumerate(events)]


def _interventions(limits: LimitsBook | None) -> list[tuple[str, str, str, tuple[str, ...]]]:
    data = summary(replay_records(_stream(), [policy_by_name("logged")], limits=limits), [])
    return [(i["entity_id"], i["at"][11:16], i["outcome"], tuple(i["rules"]))
            for i in data["guardrail_interventions"]["logged"]]


def test_with_the_default_six_hour_window_nothing_is_stopped() -> None:
    assert _interventions(LimitsBook(GuardrailSettings())) == []


def test_a_24_hour_window_from_the_settings_blocks_both_second_moves(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROASLOOP_EXECUTOR_CHANGE_WINDOW_HOURS", "24")
    blocked = [("a-g1", "08:00", "blocked", ("cumulative_change",)),
               ("a-g2", "08:00", "blocked", ("cumulative_change",))]
    assert _interventions(None) == blocked  # no book: the replay reads the settings from the environment
    assert _interventions(LimitsBook(guardrail_settings())) == blocked


async def test_overrides_stored_in_postgresql_change_the_report_where_they_apply(db_pool: asyncpg.Pool[Any]) -> None:
    async with db_pool.acquire() as conn:
        await save_override(conn, "acme", "g1", {"change_window_hours": 24}, actor="ops")
        await save_entity_bounds(conn, "acme", "b-g2", {"cap_minor": 9_000}, actor="ops")
        book = await LimitsBook.load(conn, GuardrailSettings())
    assert _interventions(book) == [
        ("b-g2", "01:00", "clamped", ("entity_cap",)),            # the entity's cap, each time
        ("a-g1", "08:00", "blocked", ("cumulative_change",)),     # the campaign's 24 h window; g2 keeps 6 h
        ("b-g2", "08:00", "clamped", ("entity_cap",)),
    ]
    async with db_pool.acquire() as conn:
        await save_override(conn, "acme", "", {"max_change_fraction": 0.1}, actor="ops")  # tenant-wide: 10%
        book = await LimitsBook.load(conn, GuardrailSettings())
    assert [(e, t, o) for e, t, o, _ in _interventions(book)] == [
        ("a-g1", "01:00", "clamped"), ("a-g2", "01:00", "clamped"), ("b-g2", "01:00", "clamped"),
        ("a-g1", "08:00", "blocked"), ("a-g2", "08:00", "clamped"), ("b-g2", "08:00", "clamped"),
    ]


async def test_the_report_says_which_limits_it_used(db_pool: asyncpg.Pool[Any]) -> None:
    async with db_pool.acquire() as conn:
        await save_override(conn, "acme", "g1", {"change_window_hours": 24}, actor="ops")
        book = await LimitsBook.load(conn, GuardrailSettings())
    used = summary(replay_records(_stream(), [policy_by_name("logged")], limits=book), [])["guardrail_limits"]
    assert used["source"] == "postgresql"
    assert used["defaults"]["change_window_hours"] == 6.0
    assert used["overrides"] == [{"tenant_id": "acme", "campaign_id": "g1", "change_window_hours": 24.0}]
    plain = summary(replay_records(_stream(), [policy_by_name("logged")]), [])["guardrail_limits"]
    assert (plain["source"], plain["overrides"], plain["entity_bounds"]) == ("settings", [], [])
