"""Stop-loss: the sampler proposes pausing a clear loser past its learning, and resuming one its late deals redeem."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from schemas.events import AllocationDecided, StatusProposal
from streams.core.errors import ConfigError
from streams.lab.backtest.policies import policy_by_name, proposal_keys
from streams.sampler.decide import decide, seed_of
from streams.sampler.settings import SamplerSettings, load_sampler_settings
from streams.sampler.state import GroupState
from streams.sampler.stoploss import probability_below, stop_loss_rng
from streams.sampler.store import GroupRow

START = date(2026, 1, 1)
DAYS = 30
NOW = datetime(2026, 1, 31, tzinfo=UTC)
ROW = GroupRow("t", "g", "c1", "USD", 6_000, 0, None)


def click_on(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=10)


def add(state: GroupState, entity: str, first_day: int, last_day: int, spend: int, deal_every: int,
        deal_minor: int) -> None:
    """``entity`` spends ``spend`` a day over [first_day, last_day) and closes one deal every ``deal_every`` days."""
    for d in range(first_day, last_day):
        day = START + timedelta(days=d)
        state.record_spend(entity, "c1", day, spend, 40, 4_000, 2, 3_000)
        if (d - first_day) % deal_every == 0:
            click = click_on(day)
            state.record_revenue(entity, "c1", deal_minor, click + timedelta(hours=2), click, new_deal=True)


def market(loser_first_day: int = 0, loser_spend: int = 2_000) -> GroupState:
    """A winner at pipeline ROAS 3 and a steady ad set at 2 all month; a loser at 0.1 from ``loser_first_day``."""
    state = GroupState("t", "g", total_budget_minor=6_000)
    add(state, "winner", 0, DAYS, 2_000, 1, 6_000)
    add(state, "steady", 0, DAYS, 2_000, 1, 4_000)
    add(state, "loser", loser_first_day, DAYS, loser_spend, 1, loser_spend // 10)
    return state


def proposals(state: GroupState, settings: SamplerSettings | None = None) -> dict[str, StatusProposal]:
    out = decide(state, ROW, NOW, settings or SamplerSettings(), paused=False)
    assert out is not None
    return {p.entity_id: p for p in out.decision.status_proposals}


def p_below(state: GroupState, settings: SamplerSettings) -> float:
    """The loser's probability of being below break-even in its group, apart from the rule's gates."""
    posterior = state.posterior(("loser", "steady", "winner"), NOW, settings.model())
    return float(probability_below(posterior, settings.stop_loss_break_even_roas, stop_loss_rng(1), 4000)[0])


def test_a_clear_loser_past_min_spend_and_age_is_proposed_for_pause_with_its_reason() -> None:
    found = proposals(market())
    assert set(found) == {"loser"}
    pause = found["loser"]
    assert pause.action == "pause"
    assert pause.probability_below_break_even > SamplerSettings().stop_loss_pause_probability
    assert pause.spend_minor == DAYS * 2_000 and pause.age_days == DAYS
    assert pause.break_even_roas == 1.0 and "break-even" in pause.reason


def test_a_young_loser_is_protected_even_when_it_has_spent_enough() -> None:
    state = market(loser_first_day=DAYS - 6, loser_spend=6_000)  # 36,000 spent in 6 days
    eager = SamplerSettings(stop_loss_pause_probability=0.9)
    assert p_below(state, eager) > 0.9  # the posterior alone would condemn it
    assert "loser" not in proposals(state, eager)
    assert proposals(state, SamplerSettings(stop_loss_pause_probability=0.9, stop_loss_min_age_days=6))["loser"]


def test_a_loser_under_min_spend_is_protected_even_when_old() -> None:
    state = market()
    assert p_below(state, SamplerSettings()) > 0.95
    assert "loser" not in proposals(state, SamplerSettings(stop_loss_min_spend_minor=DAYS * 2_000 + 1))
    assert proposals(state, SamplerSettings(stop_loss_min_spend_minor=DAYS * 2_000))["loser"]


def test_a_paused_ad_set_whose_late_deals_prove_it_wrong_is_proposed_for_resume() -> None:
    state = GroupState("t", "g", total_budget_minor=6_000)
    add(state, "winner", 0, DAYS, 3_000, 1, 9_000)
    add(state, "steady", 0, DAYS, 3_000, 1, 6_000)
    add(state, "paused", 0, 16, 2_000, 5, 1_000)  # stopped delivering on day 16, looking like a loser
    assert "paused" not in proposals(state)
    for d in range(0, 16, 2):  # the deals its clicks made arrive weeks later, and they are large
        click = click_on(START + timedelta(days=d))
        state.record_revenue("paused", "c1", 20_000, NOW - timedelta(hours=d + 1), click, new_deal=True)
    resume = proposals(state)["paused"]
    assert resume.action == "resume"
    assert resume.probability_below_break_even < SamplerSettings().stop_loss_resume_probability
    assert resume.spend_minor == 16 * 2_000


def test_proposals_are_deterministic_for_the_decision_and_survive_the_wire() -> None:
    state = market()
    first, again = (decide(state, ROW, NOW, SamplerSettings(), paused=False) for _ in range(2))
    assert first is not None and again is not None
    assert first.decision.status_proposals == again.decision.status_proposals
    assert first.decision.status_proposals  # not trivially equal
    decoded = AllocationDecided.model_validate_json(first.decision.model_dump_json())
    assert decoded.status_proposals == first.decision.status_proposals
    # the probability is the seeded draws' and nothing else's
    posterior = state.posterior(("loser", "steady", "winner"), NOW, SamplerSettings().model())
    expected = probability_below(posterior, 1.0, stop_loss_rng(seed_of(first.decision.decision_id)), 4000)[0]
    assert first.decision.status_proposals[0].probability_below_break_even == pytest.approx(float(expected), abs=1e-6)
    assert not np.isnan(expected)


def test_the_stop_loss_off_proposes_nothing_and_leaves_the_digest_as_before() -> None:
    off = SamplerSettings(stop_loss_enabled=False)
    assert proposals(market(), off) == {}
    assert off.decision_digest() != SamplerSettings().decision_digest()


def test_a_resume_threshold_not_below_the_pause_threshold_fails_at_start_naming_both() -> None:
    with pytest.raises(ConfigError) as err:
        load_sampler_settings(stop_loss_pause_probability=0.9, stop_loss_resume_probability=0.9)
    assert "STOP_LOSS_RESUME_PROBABILITY" in str(err.value) and "STOP_LOSS_PAUSE_PROBABILITY" in str(err.value)
    with pytest.raises(ConfigError, match="ROASLOOP_SAMPLER_STOP_LOSS_PAUSE_PROBABILITY"):
        load_sampler_settings(stop_loss_pause_probability=1.5)


def test_replaying_the_decision_with_its_logged_seed_reproduces_its_proposals() -> None:
    state = market()
    out = decide(state, ROW, NOW, SamplerSettings(), paused=False)
    assert out is not None and out.decision.status_proposals
    replayed = policy_by_name("thompson").choose(out.decision, state)
    assert replayed.proposals == proposal_keys(out.decision) == (("loser", "pause"),)
    assert replayed.budgets == tuple(a.budget_minor for a in out.decision.allocations)
