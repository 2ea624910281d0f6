"""``roasloop simulate`` moves budgets under the executor's guardrail settings, read from the environment."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from streams.core.controls.limits import GuardrailSettings
from streams.lab.simulation.adapters import guarded_budget
from streams.lab.simulation.simulate import run
from streams.sampler.state import ModelConfig

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def test_one_move_is_limited_by_the_settings_fraction_policy_and_the_ad_sets_minimum() -> None:
    def guarded(target: int, current: int, settings: GuardrailSettings, minimum: int = 100) -> int:
        return guarded_budget("as1", "c1", "USD", target, current, minimum, NOW, settings=settings)

    assert guarded(13_000, 10_000, GuardrailSettings()) == 12_000
    assert guarded(13_000, 10_000, GuardrailSettings(max_change_fraction=0.5)) == 13_000
    assert guarded(13_000, 10_000, GuardrailSettings(policy="block")) == 10_000
    assert guarded(150, 220, GuardrailSettings(), minimum=200) == 200


def test_a_run_follows_the_executor_settings_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    eager = ModelConfig(change_cost_days=0)  # every move pays: what is left to limit it are the guardrails
    default = run("basic", "thompson", 0, days=4, drain_days=0, model=eager)
    monkeypatch.setenv("ROASLOOP_EXECUTOR_MAX_CHANGE_FRACTION", "0.01")
    slow = run("basic", "thompson", 0, days=4, drain_days=0, model=eager)
    assert slow.allocations != default.allocations
    for group in {a["group_id"] for a in slow.allocations}:
        days = [a["budgets"] for a in slow.allocations if a["group_id"] == group]
        for before, after in itertools.pairwise(days):
            assert all(abs(after[e] - before[e]) <= before[e] // 100 for e in after)  # 1% a day at most
