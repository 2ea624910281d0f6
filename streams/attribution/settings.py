"""The attribution stage's own settings (``ROASLOOP_ATTRIBUTION_*``), checked once at start.

The attribution *window* is per tenant (``tenants.attribution_window_days``); what lives here
is how the processor behaves: how long a deal may wait for a late click, how far a click may
trail the CRM's clock, how big a click batch is, and how long clicks are kept past the window.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from streams.core.errors import ConfigError

PREFIX = "ROASLOOP_ATTRIBUTION_"


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
    default_window_days: Literal[1, 7, 28] = Field(default=7, description="Window of tenants without a tenants row")
    probabilistic_candidates: int = Field(
        default=100, ge=1, le=10_000, description="Most recent IP+UA clicks weighed for a conflict"
    )
    click_batch_max: int = Field(default=1000, ge=1, le=100_000, description="Clicks indexed per transaction")
    click_batch_timeout_ms: int = Field(default=100, ge=1, description="Wait for a batch to fill")
    retention_margin_days: int = Field(
        default=1, ge=0, description="Clicks are kept for the tenant's window plus this margin"
    )
    retention_interval_seconds: float = Field(default=3600.0, gt=0)
    session_timeout_ms: int = Field(
        default=10_000, ge=1000,
        description="Consumer session timeout; the local broker holds a join for half of it (tests use 2000)",
    )
    heartbeat_interval_ms: int = Field(default=3_000, ge=100)

    def consumer_options(self) -> dict[str, Any]:
        return {"session_timeout_ms": self.session_timeout_ms, "heartbeat_interval_ms": self.heartbeat_interval_ms}


def load_attribution_settings(**overrides: object) -> AttributionSettings:
    """Read the environment; a bad value raises ConfigError naming the variable."""
    try:
        return AttributionSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = [
            f"{PREFIX}{str(err['loc'][0]).upper() if err['loc'] else 'SETTINGS'}: {err['msg']}"
            for err in exc.errors(include_url=False)
        ]
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None
