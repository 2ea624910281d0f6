"""The sampler's knobs have one set of defaults, shared by the live stage and ``roasloop simulate``."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from streams.lab.policies import make_policy
from streams.sampler.policy import Thompson
from streams.sampler.settings import SamplerSettings
from streams.sampler.state import ModelConfig, cohort_age_days


def test_live_settings_build_the_same_config_simulation_runs_with(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HALF_LIFE_DAYS", "VALUE_HALF_LIFE_DAYS", "VALUE_PSEUDO_DEALS", "FLOOR_SHARE", "DRAWS"):
        monkeypatch.delenv(f"ROASLOOP_SAMPLER_{name}", raising=False)
    assert SamplerSettings().model() == ModelConfig()
    policy = make_policy("thompson")
    assert isinstance(policy, Thompson) and policy.model == ModelConfig()


def test_settings_reach_the_config() -> None:
    config = SamplerSettings(half_life_days=5.0, value_pseudo_deals=9.0, floor_share=0.2).model()
    assert (config.half_life_days, config.prior.value_pseudo_deals, config.floor_share) == (5.0, 9.0, 0.2)


def test_todays_spend_is_aged_from_the_part_of_the_day_gone_by() -> None:
    day = date(2026, 1, 1)
    assert cohort_age_days(datetime(2026, 1, 1, 6, tzinfo=UTC), day) == pytest.approx(3 / 24)
    assert cohort_age_days(datetime(2026, 1, 2, 0, tzinfo=UTC), day) == pytest.approx(0.5)
    assert cohort_age_days(datetime(2026, 1, 3, 12, tzinfo=UTC), day) == pytest.approx(2.0)
    assert cohort_age_days(datetime(2025, 12, 31, 12, tzinfo=UTC), day) == 0.0
