"""The evaluation's facts: spend snapshots spread over their day, revenue charged to its click's window."""

from __future__ import annotations

import pytest

from streams.lab.backtest.facts import Ledger
from tests.lab.backtest.factories import at, revenue, spend

G = ("acme", "g1")


def test_a_later_spend_snapshot_replaces_the_earlier_one() -> None:
    ledger = Ledger()
    ledger.add_spend(spend("a", at(6), 1_000))
    ledger.add_spend(spend("a", at(18), 2_400))
    assert ledger.spend_between(G, "a", at(0), at(24)) == pytest.approx(2_400)
    assert ledger.spend_total[(G, "a")] == 2_400


def test_each_reported_increase_is_spread_over_the_time_since_the_previous_report() -> None:
    ledger = Ledger()
    ledger.add_spend(spend("a", at(12), 1_200))  # 1,200 spent from midnight to noon
    ledger.add_spend(spend("a", at(18), 2_400))  # 1,200 more from noon to 18:00
    assert ledger.spend_between(G, "a", at(6), at(12)) == pytest.approx(600)
    assert ledger.spend_between(G, "a", at(12), at(15)) == pytest.approx(600)
    assert ledger.spend_between(G, "a", at(18), at(24)) == pytest.approx(0)


def test_a_late_final_report_is_charged_to_its_own_day() -> None:
    ledger = Ledger()
    ledger.add_spend(spend("a", at(12), 1_200))
    final = spend("a", at(30), 3_600).model_copy(update={"day": at(0).date()})  # day 0, reported next morning
    ledger.add_spend(final)
    assert ledger.spend_between(G, "a", at(12), at(24)) == pytest.approx(2_400)
    assert ledger.spend_between(G, "a", at(24), at(48)) == pytest.approx(0)


def test_revenue_counts_in_the_window_of_its_click() -> None:
    ledger = Ledger()
    late = revenue("a", at(40), 5_000, deal="x").model_copy(update={"click_occurred_at": at(3)})
    ledger.add_revenue(late, "a")
    ledger.add_revenue(revenue("a", at(12), 700, deal="y"), "a")
    assert ledger.revenue_between(G, "a", at(0), at(6)) == 5_000
    assert ledger.revenue_between(G, "a", at(6), at(48)) == 700
    assert ledger.revenue_between(G, "b", at(0), at(48)) == 0


def test_reward_model_uses_only_what_was_fed_so_far() -> None:
    ledger = Ledger()
    assert ledger.roas_so_far(G, "a") is None
    ledger.add_spend(spend("a", at(1), 1_000))
    ledger.add_revenue(revenue("a", at(2), 3_000), "a")
    assert ledger.roas_so_far(G, "a") == pytest.approx(3.0)
