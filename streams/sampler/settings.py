"""The sampler's own settings (``ROASLOOP_SAMPLER_*``): model, allocation and scheduling knobs.

Model and allocation defaults come from :class:`~streams.sampler.state.ModelConfig` (and its
:class:`~streams.sampler.coldstart.PriorConfig`), the one place they are written down;
``model()`` builds the config the stage runs with, and ``roasloop simulate`` runs the same
defaults, so what the README table measures offline is what runs live.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, replace

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from streams.core.controls.limits import PLATFORM_MIN_BUDGET_MINOR
from streams.core.settings import load_settings
from streams.sampler.coldstart import PriorConfig
from streams.sampler.state import ModelConfig
from streams.sampler.stoploss import StopLossConfig

ENV_PREFIX = "ROASLOOP_SAMPLER_"
_M = ModelConfig()
_P = PriorConfig()


class SamplerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=None, extra="ignore", frozen=True)

    half_life_days: float = Field(default=_M.half_life_days, gt=0, description="Forgetting of deal-rate evidence")
    value_half_life_days: float = Field(default=_M.value_half_life_days, gt=0,
                                        description="Forgetting of value-per-deal evidence")
    delay_horizon_days: int = Field(default=_M.horizon_days, ge=2, le=365)
    delay_prior_mean_days: float = Field(default=_M.delay_prior_mean_days, gt=0)
    default_roas: float = Field(default=_P.default_roas, ge=0)
    value_pseudo_deals: float = Field(default=_P.value_pseudo_deals, ge=0)
    draws: int = Field(default=_M.draws, ge=100, le=100_000, description="Monte Carlo draws per decision")
    floor_share: float = Field(default=_M.floor_share, ge=0, le=1,
                               description="Exploration floor, fraction of equal split")
    cap_share: float = Field(default=_M.cap_share, gt=0, le=1)
    hysteresis: float = Field(default=0.05, ge=0, le=1, description="Relative move below which nothing is requested")
    min_change_minor: int = Field(default=0, ge=0)
    change_cost_days: float = Field(default=_M.change_cost_days, ge=0, le=30,
                                    description="Cost of one budget change, in days of its value (0: none)")
    change_horizon_days: float = Field(default=_M.change_horizon_days, gt=0, le=365,
                                       description="Days a move's gain is counted over against its cost")
    change_confidence: float = Field(default=_M.change_confidence, ge=0, le=1,
                                     description="Posterior probability with which a move must pay")
    platform_min_budget_minor: int = Field(default=PLATFORM_MIN_BUDGET_MINOR, ge=0)
    entity_ttl_days: int = Field(default=_M.entity_ttl_days, ge=0)
    schedule_seconds: float = Field(default=3600.0, gt=0, description="Decide every group at least this often")
    debounce_seconds: float = Field(default=300.0, ge=0, description="Least time between evidence-driven decisions")
    significant_events: int = Field(default=20, ge=1, description="New events that trigger a decision")
    priors_refresh_seconds: float = Field(default=60.0, ge=0, description="How often the tenants' active "
                                          "cold-start priors are checked for a promotion (0: priors off)")
    # --- stop-loss (streams.sampler.stoploss): proposals only, conservative defaults ---------
    stop_loss_enabled: bool = Field(default=True, description="Propose pausing losers and resuming recovered ones")
    stop_loss_break_even_roas: float = Field(default=1.0, gt=0, le=1000,
                                             description="Pipeline ROAS below which an ad set loses money")
    stop_loss_pause_probability: float = Field(default=0.95, gt=0.5, lt=1,
                                               description="Propose a pause above this P(ROAS < break-even)")
    stop_loss_resume_probability: float = Field(default=0.5, gt=0, lt=1,
                                                description="Propose a resume below this P(ROAS < break-even)")
    stop_loss_min_spend_minor: int = Field(default=20_000, ge=0, le=10**12,
                                           description="No pause before the ad set has spent this much")
    stop_loss_min_age_days: int = Field(default=14, ge=0, le=365,
                                        description="No pause before this many days since its first spend")
    stop_loss_draws: int = Field(default=4000, ge=100, le=100_000, description="Posterior draws per judgement")

    @model_validator(mode="after")
    def _stop_loss_hysteresis(self) -> SamplerSettings:
        if self.stop_loss_resume_probability >= self.stop_loss_pause_probability:
            raise ValueError(f"{ENV_PREFIX}STOP_LOSS_RESUME_PROBABILITY ({self.stop_loss_resume_probability}) must be "
                             f"below {ENV_PREFIX}STOP_LOSS_PAUSE_PROBABILITY ({self.stop_loss_pause_probability}): "
                             "the gap is the hysteresis that keeps an ad set near break-even from flapping")
        return self

    def stop_loss(self) -> StopLossConfig:
        return StopLossConfig(
            enabled=self.stop_loss_enabled, break_even_roas=self.stop_loss_break_even_roas,
            pause_probability=self.stop_loss_pause_probability, resume_probability=self.stop_loss_resume_probability,
            min_spend_minor=self.stop_loss_min_spend_minor, min_age_days=self.stop_loss_min_age_days,
            draws=self.stop_loss_draws)

    def decision_digest(self) -> str:
        """A fingerprint of every setting a decision depends on (not the scheduling ones).

        Logged with each decision, so a replay can tell that it runs other settings than the
        live sampler did - the one reason a replay with the logged seeds would not reproduce."""
        relevant = {"model": asdict(self.model()), "hysteresis": self.hysteresis,
                    "min_change_minor": self.min_change_minor,
                    "platform_min_budget_minor": self.platform_min_budget_minor}
        if self.stop_loss_enabled:  # absent when off, so digests logged before the stop-loss still match
            relevant["stop_loss"] = asdict(self.stop_loss())
        return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]

    def model(self) -> ModelConfig:
        return ModelConfig(
            half_life_days=self.half_life_days,
            value_half_life_days=self.value_half_life_days,
            horizon_days=self.delay_horizon_days,
            delay_prior_mean_days=self.delay_prior_mean_days,
            prior=replace(_P, default_roas=self.default_roas, value_pseudo_deals=self.value_pseudo_deals),
            entity_ttl_days=self.entity_ttl_days,
            draws=self.draws,
            floor_share=self.floor_share,
            cap_share=self.cap_share,
            change_cost_days=self.change_cost_days,
            change_horizon_days=self.change_horizon_days,
            change_confidence=self.change_confidence,
        )


def load_sampler_settings(**overrides: object) -> SamplerSettings:
    """Read ``ROASLOOP_SAMPLER_*``; a bad value fails naming the variable."""
    return load_settings(SamplerSettings, **overrides)
