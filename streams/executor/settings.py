"""The executor's own settings (``ROASLOOP_EXECUTOR_*``), with the defaults the issue prescribes.

The guardrail limits are inherited from :class:`streams.core.controls.limits.GuardrailSettings`
(same variable names), because the backtest and the simulator read the same defaults without the
executor's process settings; overrides per tenant and campaign (``guardrail_overrides``) and per
entity (``executor_entity_limits``) stack on them in ``effective_limits``. Jitter defaults to
3-18 s so changes from one allocation do not reach Meta as a burst; tests set both ends to 0.
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from streams.core.controls.limits import GuardrailSettings
from streams.core.settings import load_settings

ENV_PREFIX = "ROASLOOP_EXECUTOR_"


class ExecutorSettings(GuardrailSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=None, extra="ignore", frozen=True)

    jitter_min_seconds: float = Field(default=3.0, ge=0)
    jitter_max_seconds: float = Field(default=18.0, ge=0)

    dither: bool = False
    dither_fraction: float = Field(default=0.03, ge=0, le=0.5)

    meta_timeout_seconds: float = Field(default=10.0, gt=0)
    meta_max_attempts: int = Field(default=5, ge=1, le=20)
    backoff_base_seconds: float = Field(default=1.0, ge=0)
    backoff_max_seconds: float = Field(default=300.0, ge=0, description="Longer waits fail the change")
    usage_high_water_pct: float = Field(default=90.0, gt=0, le=100)
    usage_pause_seconds: float = Field(default=5.0, ge=0)

    reconcile_grace_seconds: float = Field(
        default=120.0, ge=0, description="How long an intent sent without an answer waits for its sender, then fails")
    revoke_grace_seconds: float = Field(
        default=15.0, ge=0, description="How long a revoke waits for Meta calls under way to settle")

    max_in_flight: int = Field(default=10_000, ge=1, description="Requests held before consuming pauses")
    batch_max_requests: int = Field(default=500, ge=1,
                                    description="Requests decided together in one transaction, at most")
    commit_interval_seconds: float = Field(default=0.2, gt=0)
    approval_sweep_seconds: float = Field(default=30.0, gt=0,
                                          description="How often changes waiting for a person are checked for expiry")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.jitter_min_seconds > self.jitter_max_seconds:
            raise ValueError("ROASLOOP_EXECUTOR_JITTER_MIN_SECONDS is larger than ..._JITTER_MAX_SECONDS")
        return self


def load_executor_settings(**overrides: object) -> ExecutorSettings:
    """Read ``ROASLOOP_EXECUTOR_*``; a bad value fails naming the variable."""
    return load_settings(ExecutorSettings, **overrides)
