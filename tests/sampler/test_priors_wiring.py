"""The sampler asks its PriorSource (the priors package's protocol) live and in simulation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from streams.priors.features import EntityFeatures
from streams.priors.source import NullPriorSource, Prior
from streams.sampler.coldstart import external_priors
from streams.sampler.decide import decide
from streams.sampler.settings import SamplerSettings
from streams.sampler.state import GroupState, ModelConfig
from streams.sampler.store import GroupRow

START = date(2026, 1, 1)
NOW = datetime(2026, 1, 11, tzinfo=UTC)


class Confident:
    """A stub source: entity ``b`` is believed excellent, worth a lot of spend."""

    def __init__(self) -> None:
        self.asked: list[list[str]] = []

    def prior_for(self, entities: list[EntityFeatures]) -> list[Prior]:
        self.asked.append([e.entity_id for e in entities])
        return [Prior(50.0, 1_000_000, "winners") if e.entity_id == "b" else Prior(1.0, 0) for e in entities]


def group() -> GroupState:
    state = GroupState("t", "g", total_budget_minor=2_000)
    for d in range(10):
        for e in ("a", "b") if d == 9 else ("a",):
            state.record_spend(e, "c1", START + timedelta(days=d), 1_000, 20, 2_000, 0, 1_000)
        click = datetime.combine(START + timedelta(days=d), datetime.min.time(), tzinfo=UTC) + timedelta(hours=10)
        state.record_revenue("a", "c1", 1_000, click + timedelta(hours=1), click, new_deal=True)
    return state


def test_a_confident_prior_lifts_a_new_entity_and_a_null_source_changes_nothing() -> None:
    state, ids, config = group(), ("a", "b"), ModelConfig()
    off = state.posterior(ids, NOW, config)
    null = state.posterior(ids, NOW, config, external_priors(NullPriorSource(), ids))
    on = state.posterior(ids, NOW, config, external_priors(Confident(), ids))
    assert null.mean[1] == off.mean[1]
    assert on.mean[1] > 5 * off.mean[1]
    assert abs(on.mean[0] - off.mean[0]) < 1e-12


def test_decide_asks_the_prior_source_about_the_groups_entities_in_one_batch() -> None:
    state, source = group(), Confident()
    row = GroupRow("t", "g", "c1", "USD", 2_000, 0, None)
    with_prior = decide(state, row, NOW, SamplerSettings(), paused=False, prior_source=source)
    without = decide(state, row, NOW, SamplerSettings(), paused=False)
    assert source.asked == [["a", "b"]]
    assert with_prior is not None and without is not None
    share = {a.entity_id: a.share for a in with_prior.decision.allocations}
    assert share["b"] > {a.entity_id: a.share for a in without.decision.allocations}["b"]
