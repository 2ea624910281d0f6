"""The console stage's own settings (``ROASLOOP_CONSOLE_*``), checked once at start."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from streams.core.settings import load_settings

PREFIX = "ROASLOOP_CONSOLE_"


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, env_file=None, extra="ignore", frozen=True)

    jwks_min_refresh_seconds: float = Field(default=10.0, ge=0, description="Unknown-kid refetch at most this often")
    jwks_timeout_seconds: float = Field(default=5.0, gt=0, description="Wait for Google's signing keys")
    publish_timeout_seconds: float = Field(default=10.0, gt=0, description="Broker ack wait before 503")
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, description="Larger request bodies get 413")


def load_console_settings(**overrides: object) -> ConsoleSettings:
    """Read the environment; a bad value raises ConfigError naming the variable."""
    return load_settings(ConsoleSettings, **overrides)
