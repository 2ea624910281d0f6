"""The ingest stage's own settings (``ROASLOOP_INGEST_*``), checked once at start."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from streams.core.errors import ConfigError
from streams.core.settings import load_settings

PREFIX = "ROASLOOP_INGEST_"


class IngestSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, env_file=None, extra="ignore", frozen=True)

    # --- HubSpot webhooks ----------------------------------------------------------------
    webhook_max_body_bytes: int = Field(default=1024 * 1024, ge=1024, description="Larger bodies get 413")
    signature_max_age_seconds: int = Field(default=300, ge=1, description="Older v3: 401")
    signature_max_future_seconds: int = Field(default=60, ge=0, description="Skew tolerated ahead")
    hubspot_default_tenant: str | None = Field(
        default=None, description="Tenant for portals missing from hubspot_portals (single-tenant installs)"
    )
    hubspot_contact_properties: str = Field(
        default="email,roasloop_click_id,fbclid,roasloop_ip_address,roasloop_user_agent,roasloop_device_id,roasloop_utm_ad_id",
        description="Contact properties: email, click id, fbclid, ip, user agent, device, utm ad id",
    )
    http_timeout_seconds: float = Field(default=5.0, gt=0)
    http_max_attempts: int = Field(default=4, ge=1, le=10)
    http_backoff_seconds: float = Field(default=0.5, ge=0)
    publish_timeout_seconds: float = Field(default=10.0, gt=0, description="Broker ack wait before 503")
    body_timeout_seconds: float = Field(default=10.0, gt=0, le=300,
                                        description="A request body must arrive within this (else 408)")

    # --- clicks --------------------------------------------------------------------------
    click_batch_max_items: int = Field(default=500, ge=1)
    click_batch_max_bytes: int = Field(default=1024 * 1024, ge=1024)
    trust_forwarded_for: bool = Field(default=False, description="Take the client IP from X-Forwarded-For")
    url_query_allow: str = Field(
        default="utm_*,fbclid,gclid,rl_cid",
        description="Query parameters a click keeps of its landing URL and Referer (glob patterns); the rest "
                    "is dropped",
    )
    lookup_cache_seconds: float = Field(default=30.0, ge=0, le=3600,
                                        description="How long a tenant's landing hosts and an ad's hierarchy "
                                                    "are cached per process")

    # --- rate limits (per tenant, per process) --------------------------------------------
    rate_limit_per_second: float = Field(default=50.0, gt=0)
    rate_limit_burst: int = Field(default=100, ge=1)

    # --- Meta insights poller --------------------------------------------------------------
    insights_accounts: str = Field(default="", description="tenant=act_id pairs, comma separated")
    insights_interval_seconds: float = Field(default=900.0, gt=0)
    insights_lookback_days: int = Field(default=3, ge=1, le=90)
    insights_usage_threshold_pct: float = Field(default=75.0, gt=0, le=100)

    def url_query_patterns(self) -> tuple[str, ...]:
        return tuple(p.strip().lower() for p in self.url_query_allow.split(",") if p.strip())

    def accounts(self) -> list[tuple[str, str]]:
        """``insights_accounts`` as (tenant, account id with ``act_`` prefix) pairs."""
        pairs = []
        for item in filter(None, (p.strip() for p in self.insights_accounts.split(","))):
            tenant, sep, account = item.partition("=")
            if not sep or not tenant or not account:
                raise ConfigError(f"{PREFIX}INSIGHTS_ACCOUNTS: {item!r} is not tenant=act_id")
            pairs.append((tenant, account if account.startswith("act_") else f"act_{account}"))
        return pairs


def load_ingest_settings(**overrides: object) -> IngestSettings:
    """Read the environment; a bad value raises ConfigError naming the variable."""
    settings = load_settings(IngestSettings, **overrides)
    settings.accounts()
    return settings
