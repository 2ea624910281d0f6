"""The revenue stage's own settings (``ROASLOOP_REVENUE_*``), checked once at start."""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from streams.core.errors import ConfigError

PREFIX = "ROASLOOP_REVENUE_"


class RevenueSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, env_file=None, extra="ignore", frozen=True)

    session_timeout_ms: int = Field(
        default=10_000, ge=1000,
        description="Consumer session timeout; the local broker holds a join for half of it (tests use 2000)",
    )
    heartbeat_interval_ms: int = Field(default=3_000, ge=100)

    def consumer_options(self) -> dict[str, Any]:
        return {"session_timeout_ms": self.session_timeout_ms, "heartbeat_interval_ms": self.heartbeat_interval_ms}


def load_revenue_settings(**overrides: object) -> RevenueSettings:
    """Read the environment; a bad value raises ConfigError naming the variable."""
    try:
        return RevenueSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = [
            f"{PREFIX}{str(err['loc'][0]).upper() if err['loc'] else 'SETTINGS'}: {err['msg']}"
            for err in exc.errors(include_url=False)
        ]
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None
