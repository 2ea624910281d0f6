"""The alerts stage's own settings (``ROASLOOP_ALERTS_*``), checked once at start.

The thresholds every rule is judged by are inherited from
:class:`streams.core.controls.alert_thresholds.AlertThresholds`, and the default channels from
:class:`streams.core.controls.alert_channels.AlertChannelSettings` (same variable names), because the
console shows them and checks a tenant's overrides by the same rules without the stage's settings.

Cadences (``*_interval_seconds``, ``send_timeout_seconds``) are wall time: they say how often the
stage looks. Everything judged - windows, cooldowns, retry backoff - is on the stage's clock, so a
test or the dev stack's fast clock moves them with event time.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from streams.core.controls.alert_channels import AlertChannelSettings
from streams.core.controls.alert_thresholds import AlertThresholds
from streams.core.settings import load_settings


class AlertsSettings(AlertThresholds, AlertChannelSettings):
    model_config = SettingsConfigDict(env_prefix="ROASLOOP_ALERTS_", env_file=None, extra="ignore", frozen=True)

    sweep_interval_seconds: float = Field(default=30.0, gt=0, le=3600,
                                          description="Wall seconds between health checks, reminders and reports")
    delivery_interval_seconds: float = Field(default=2.0, gt=0, le=600,
                                             description="Wall seconds between looks for notifications to send")
    send_timeout_seconds: float = Field(default=10.0, gt=0, le=120, description="One webhook or SMTP attempt")
    retry_base_seconds: float = Field(default=60.0, gt=0, description="First retry of a failed delivery after this")
    retry_max_seconds: float = Field(default=3600.0, gt=0, description="Retries back off up to this")
    max_attempts: int = Field(default=12, ge=1, le=100, description="A delivery is given up after this many")
    channel_failures: int = Field(default=3, ge=1, le=100,
                                  description="Consecutive failures that make a channel unreachable (an alert)")
    email_from: str = Field(default="roasloop@localhost", description="Sender address of alert e-mails")
    smtp_host: str | None = Field(default=None, description="SMTP server; unset: no e-mail")
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Literal["starttls", "tls", "none"] = Field(default="starttls",
                                                              description="STARTTLS on 587, TLS on 465")
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None

    reports: bool = Field(default=True, description="Send each tenant's daily report")
    report_hour: int = Field(default=7, ge=0, le=23, description="Local hour after which yesterday's report goes")


def load_alerts_settings(**overrides: object) -> AlertsSettings:
    """Read the environment; a bad value raises ConfigError naming the variable."""
    return load_settings(AlertsSettings, **overrides)
