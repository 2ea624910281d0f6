"""The attribution stage's own settings (``ROASLOOP_ATTRIBUTION_*``), checked once at start.

The attribution *window* is per tenant (``tenants.attribution_window_days``); what lives here
is how the processor behaves: how long a deal may wait for a late click, how far a click may
trail the CRM's clock, how big a click batch is, and how long clicks are kept past the window.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from streams.core.settings import load_settings

PREFIX = "ROASLOOP_ATTRIBUTION_"


def _supported_window(days: int) -> int:
    if days not in (1, 7, 28):
        raise ValueError("attribution windows are 1, 7 or 28 days (Meta's click windows)")
    return days


WindowDays = Annotated[int, AfterValidator(_supported_window)]


class AttributionSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, env_file=None, extra="ignore", frozen=True)

    pending_seconds: float = Field(
        default=900.0, ge=0,
        description="How long a deal with no matching click waits for one before it is emitted unattributed",
    )
    sweep_interval_seconds: float = Field(
        default=5.0, gt=0, description="Wall-time cadence of the loop that expires pending deals"
    )
    clock_skew_seconds: float = Field(
        default=300.0, ge=0, description="A click stamped up to this long after the conversion still matches"
    )
    default_window_days: WindowDays = Field(default=7, description="Window of tenants without a tenants row")
    probabilistic_candidates: int = Field(
        default=100, ge=1, le=10_000, description="Most recent IP+UA clicks weighed for a conflict"
    )
    click_batch_max: int = Field(default=1000, ge=1, le=100_000, description="Clicks indexed per transaction")
    click_batch_timeout_ms: int = Field(default=100, ge=1, description="Wait for a batch to fill")
    deal_batch_max: int = Field(
        default=1000, ge=1, le=100_000, description="Deal-stage events decided per transaction"
    )
    deal_batch_timeout_ms: int = Field(default=100, ge=1, description="Wait for a deal-stage batch to fill")
    retention_margin_days: int = Field(
        default=1, ge=0, description="Clicks are kept for the tenant's window plus this margin"
    )
    retention_interval_seconds: float = Field(default=3600.0, gt=0)
def load_attribution_settings(**overrides: object) -> AttributionSettings:
    """Read the environment; a bad value raises ConfigError naming the variable."""
    return load_settings(AttributionSettings, **overrides)
