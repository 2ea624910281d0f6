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

    cookie_secure: bool = Field(default=True, description="Session cookies only over HTTPS (and localhost)")
    firebase_web_api_key: str | None = Field(
        default=None, description="Firebase web API key: email sign-in on the console page (public by design)")
    identity_toolkit_url: str = Field(default="https://identitytoolkit.googleapis.com",
                                      description="Where the page signs in by email (Firebase Identity Toolkit)")
    dev_sign_in: bool = Field(default=False, description="Offer roasloop dev's role sign-in (set by roasloop dev)")
    dev_tenant: str = Field(default="", description="The simulated tenant roasloop dev signs in to")


def load_console_settings(**overrides: object) -> ConsoleSettings:
    """Read the environment; a bad value raises ConfigError naming the variable."""
    return load_settings(ConsoleSettings, **overrides)
