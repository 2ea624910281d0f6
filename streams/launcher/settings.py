"""The launcher's own settings (``ROASLOOP_LAUNCHER_*``), checked once at start."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from streams.core.settings import load_settings


class LauncherSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ROASLOOP_LAUNCHER_", env_file=None, extra="ignore", frozen=True)

    meta_timeout_seconds: float = Field(default=60.0, gt=0, description="Uploads take longer than budget writes")
    meta_max_attempts: int = Field(default=4, ge=1, le=20)
    backoff_base_seconds: float = Field(default=2.0, ge=0)
    backoff_max_seconds: float = Field(default=300.0, gt=0)
    assets_prefix: str = Field(default="assets", description="Where the asset library lives in object storage")
    max_status_changes_per_entity_hour: int = Field(
        default=4, ge=0, le=100, description="Pauses and resumptions of one ad set or ad per rolling hour")
    max_bid_changes_per_entity_hour: int = Field(
        default=2, ge=0, le=100, description="Bid amount or strategy changes of one ad set per rolling hour")
    click_base_url: str | None = Field(
        default=None, description="Base of roasloop's click redirect in ads' links (default: PUBLIC_BASE_URL)")


def load_launcher_settings(**overrides: object) -> LauncherSettings:
    return load_settings(LauncherSettings, **overrides)
