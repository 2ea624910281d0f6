"""The sampler's own settings (``ROASLOOP_SAMPLER_*``): model, allocation and scheduling knobs.

Defaults are the ones ``roasloop simulate`` was run with for the README table, so what is
measured offline is what runs live.
"""

from __future__ import annotations

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from streams.core.errors import ConfigError
from streams.sampler.coldstart import PriorConfig
from streams.sampler.state import ModelConfig

ENV_PREFIX = "ROASLOOP_SAMPLER_"


class SamplerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=None, extra="ignore", frozen=True)

    half_life_days: float = Field(default=14.0, gt=0, description="Forgetting of deal-rate evidence")
    value_half_life_days: float = Field(default=60.0, gt=0, description="Forgetting of value-per-deal evidence")
    delay_horizon_days: int = Field(default=45, ge=2, le=365)
    delay_prior_mean_days: float = Field(default=7.0, gt=0)
    default_roas: float = Field(default=1.0, ge=0)
    value_pseudo_deals: float = Field(default=3.0, ge=0)
    draws: int = Field(default=2000, ge=100, le=100_000, description="Monte Carlo draws per decision")
    floor_share: float = Field(default=0.05, ge=0, le=1, description="Exploration floor, fraction of equal split")
    cap_share: float = Field(default=1.0, gt=0, le=1)
    hysteresis: float = Field(default=0.05, ge=0, le=1, description="Relative move below which nothing is requested")
    min_change_minor: int = Field(default=0, ge=0)
    platform_min_budget_minor: int = Field(default=100, ge=0)
    entity_ttl_days: int = Field(default=3, ge=0)
    schedule_seconds: float = Field(default=3600.0, gt=0, description="Decide every group at least this often")
    debounce_seconds: float = Field(default=300.0, ge=0, description="Least time between evidence-driven decisions")
    significant_events: int = Field(default=20, ge=1, description="New events that trigger a decision")

    def model(self) -> ModelConfig:
        return ModelConfig(
            half_life_days=self.half_life_days,
            value_half_life_days=self.value_half_life_days,
            horizon_days=self.delay_horizon_days,
            delay_prior_mean_days=self.delay_prior_mean_days,
            prior=PriorConfig(default_roas=self.default_roas, value_pseudo_deals=self.value_pseudo_deals),
            entity_ttl_days=self.entity_ttl_days,
        )


def load_sampler_settings(**overrides: object) -> SamplerSettings:
    """Read ``ROASLOOP_SAMPLER_*``; a bad value fails naming the variable."""
    try:
        return SamplerSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = [f"{ENV_PREFIX}{str(e['loc'][0]).upper()}: {e['msg']}" for e in exc.errors(include_url=False)]
        raise ConfigError("invalid sampler configuration: " + "; ".join(problems)) from None
