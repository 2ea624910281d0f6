"""The pure valuation: what each stage change credits, for the sequences the issue names and more."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas.pipeline import Canonical, StageValues, canonical_stage
from streams.revenue.valuation import Credit, DealState, apply, weighted

USD = StageValues.defaults("USD")  # 50_000 / 150_000 / 500_000 cents
T = datetime(2026, 5, 1, tzinfo=UTC)


def run(steps: list[tuple[Canonical, int | None]], confidence: float = 1.0,
        values: StageValues = USD) -> tuple[DealState, list[Credit | None]]:
    state, credits = DealState(), []
    for n, (stage, amount) in enumerate(steps):
        state, credit = apply(state, stage, values, confidence, amount, T + timedelta(minutes=n))
        credits.append(credit)
    return state, credits


def amounts(credits: list[Credit | None]) -> list[tuple[str, int] | None]:
    return [(c.kind, c.amount_minor) if c else None for c in credits]


def test_defaults_are_500_1500_5000_major_units_in_the_tenant_currency() -> None:
    assert (USD.lead, USD.appointment, USD.won) == (50_000, 150_000, 500_000)
    jpy = StageValues.defaults("JPY")
    assert (jpy.lead, jpy.appointment, jpy.won) == (500, 1_500, 5_000)


def test_lead_appointment_won_credits_each_increase_then_the_deal_amount() -> None:
    state, credits = run([("lead", None), ("appointment", None), ("won", 800_000)])
    assert amounts(credits) == [("synthetic", 50_000), ("synthetic", 100_000), ("actual", 650_000)]
    assert state.credited_minor == 800_000 == sum(c.amount_minor for c in credits if c)


def test_won_amount_below_the_estimate_is_a_negative_actual_adjustment() -> None:
    state, credits = run([("appointment", None), ("won", 100_000)])
    assert amounts(credits) == [("synthetic", 150_000), ("actual", -50_000)]
    assert state.credited_minor == 100_000


def test_skipping_stages_credits_the_sum_of_the_skipped_steps() -> None:
    state, credits = run([("lead", None), ("won", None)])
    assert amounts(credits) == [("synthetic", 50_000), ("synthetic", 450_000)]
    assert state.credited_minor == USD.won


def test_moving_backwards_credits_nothing() -> None:
    state, credits = run([("appointment", None), ("lead", None), ("appointment", None)])
    assert amounts(credits) == [("synthetic", 150_000), None, None]
    assert state.credited_minor == 150_000


def test_closed_lost_reverses_everything_credited() -> None:
    state, credits = run([("lead", None), ("appointment", None), ("lost", None)])
    assert amounts(credits)[-1] == ("reversal", -150_000)
    assert state.credited_minor == 0 and state.status == "lost"


def test_lost_with_nothing_credited_emits_nothing() -> None:
    assert run([("lost", None)])[1] == [None]


def test_open_stages_after_a_close_credit_nothing() -> None:
    state, credits = run([("won", 900_000), ("appointment", None), ("lead", None)])
    assert amounts(credits) == [("actual", 900_000), None, None]
    assert state.credited_minor == 900_000


def test_a_stale_close_does_not_override_a_newer_one() -> None:
    state, _ = apply(DealState(), "won", USD, 1.0, 700_000, T + timedelta(hours=1))
    late, credit = apply(state, "lost", USD, 1.0, None, T)
    assert credit is None and late == state


def test_won_again_without_an_amount_keeps_the_known_amount() -> None:
    state, credits = run([("won", 700_000), ("lost", None), ("won", None)])
    assert amounts(credits) == [("actual", 700_000), ("reversal", -700_000), ("actual", 700_000)]
    assert state.credited_minor == 700_000


def test_confidence_weights_every_credit_and_the_total_stays_exact() -> None:
    state, credits = run([("lead", None), ("appointment", None), ("won", 333_333)], confidence=0.467)
    assert [c.credited_total_minor for c in credits if c] == [23_350, 70_050, 155_667]
    assert sum(c.amount_minor for c in credits if c) == state.credited_minor == weighted(333_333, 0.467)


def test_weighting_rounds_half_to_even_in_minor_units() -> None:
    assert weighted(5, 0.5) == 2 and weighted(7, 0.5) == 4 and weighted(1_000, 0.7) == 700


def test_hubspot_default_stage_ids_map_onto_canonical_stages() -> None:
    assert [canonical_stage(s) for s in ("appointmentscheduled", "qualifiedtobuy")] == ["lead", "lead"]
    assert {canonical_stage(s) for s in ("presentationscheduled", "decisionmakerboughtin", "contractsent")} == {
        "appointment"
    }
    assert (canonical_stage("closedwon"), canonical_stage("closedlost")) == ("won", "lost")
    assert canonical_stage("custom-stage-17") is None
    assert canonical_stage("custom-stage-17", {"custom-stage-17": "appointment"}) == "appointment"


def test_confidence_outside_0_1_is_refused() -> None:
    with pytest.raises(ValueError):
        apply(DealState(), "lead", USD, 1.5)
