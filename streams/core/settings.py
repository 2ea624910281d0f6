"""Settings from the environment (pydantic-settings), checked once at start.

Our own settings use the ``ROASLOOP_`` prefix. Names operators already know from other tools
keep their usual spelling (``DATABASE_URL``, ``KAFKA_BOOTSTRAP_SERVERS``, ``META_ACCESS_TOKEN``
...). A wrong value fails :func:`load_settings` with a :class:`ConfigError` that names the
environment variable and says why, before anything connects anywhere.
"""

from __future__ import annotations

from functools import cached_property
from typing import Literal, Self, TypeVar, overload

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from streams.core.errors import ConfigError

PREFIX = "ROASLOOP_"


def _env(name: str) -> AliasChoices:
    """Accept the operator-facing name and its ROASLOOP_-prefixed twin."""
    return AliasChoices(name, PREFIX + name)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=PREFIX, env_file=None, extra="ignore", populate_by_name=True, frozen=True
    )

    # --- infrastructure -------------------------------------------------------------
    database_url: str | None = Field(default=None, validation_alias=_env("DATABASE_URL"))
    database_schema: str = Field(default="public", pattern=r"^[a-z_][a-z0-9_]*$")
    db_pool_min_size: int = Field(default=1, ge=0, le=100)
    db_pool_max_size: int = Field(default=10, ge=1, le=500)

    kafka_bootstrap_servers: str | None = Field(default=None, validation_alias=_env("KAFKA_BOOTSTRAP_SERVERS"))
    kafka_acks: Literal["all", "1", "0"] = Field(default="1", validation_alias=_env("KAFKA_ACKS"))
    kafka_enable_idempotence: bool = Field(default=False, validation_alias=_env("KAFKA_ENABLE_IDEMPOTENCE"))
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", validation_alias=_env("KAFKA_SECURITY_PROTOCOL")
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        default=None, validation_alias=_env("KAFKA_SASL_MECHANISM")
    )
    kafka_sasl_username: str | None = Field(default=None, validation_alias=_env("KAFKA_SASL_USERNAME"))
    kafka_sasl_password: SecretStr | None = Field(default=None, validation_alias=_env("KAFKA_SASL_PASSWORD"))
    kafka_ssl_cafile: str | None = Field(default=None, validation_alias=_env("KAFKA_SSL_CAFILE"))
    kafka_session_timeout_ms: int = Field(
        default=10_000, ge=1_000, le=300_000,
        description="Consumer group session timeout (a broker may hold a group join for up to half of it)",
    )
    kafka_heartbeat_interval_ms: int = Field(default=3_000, ge=100, le=60_000)
    topic_replication_factor: int = Field(
        default=1, ge=1, le=10, description="Replicas of each topic `roasloop topics` creates (3 on a real cluster)"
    )
    topic_prefix: str = Field(default="", pattern=r"^[A-Za-z0-9._\-]*$",
                              description="Prepended to every topic name (test isolation, shared clusters)")

    # --- external services -----------------------------------------------------------
    hubspot_client_secret: SecretStr | None = Field(default=None, validation_alias=_env("HUBSPOT_CLIENT_SECRET"))
    hubspot_access_token: SecretStr | None = Field(default=None, validation_alias=_env("HUBSPOT_ACCESS_TOKEN"))
    hubspot_api_url: str = Field(default="https://api.hubapi.com", validation_alias=_env("HUBSPOT_API_URL"))
    meta_access_token: SecretStr | None = Field(default=None, validation_alias=_env("META_ACCESS_TOKEN"))
    meta_app_secret: SecretStr | None = Field(default=None, validation_alias=_env("META_APP_SECRET"))
    meta_ad_account_id: str | None = Field(default=None, validation_alias=_env("META_AD_ACCOUNT_ID"))
    meta_api_version: str = Field(default="v26.0", pattern=r"^v\d+\.\d+$", validation_alias=_env("META_API_VERSION"))
    meta_graph_url: str = Field(default="https://graph.facebook.com", validation_alias=_env("META_GRAPH_URL"))
    firebase_project_id: str | None = Field(default=None, validation_alias=_env("FIREBASE_PROJECT_ID"))
    firebase_jwks_url: str = Field(
        default="https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com",
        validation_alias=_env("FIREBASE_JWKS_URL"),
    )
    gcs_bucket_name: str | None = Field(default=None, validation_alias=_env("GCS_BUCKET_NAME"))
    gcs_prefix: str = Field(default="", validation_alias=_env("GCS_PREFIX"))
    storage_dir: str = Field(default=".roasloop/storage", description="Local object storage root")

    # --- roasloop itself -------------------------------------------------------------
    credentials_keys: SecretStr | None = Field(
        default=None,
        description="Keys sealing stored ad-account credentials, comma separated, newest first (rotation)",
    )
    hash_key: SecretStr = Field(
        default=SecretStr("roasloop-dev-hash-key-change-me"),
        description="Key of the HMAC that hashes emails, IPs and user agents",
    )
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=0, le=65535)
    public_base_url: str | None = Field(default=None, description="External URL HubSpot signs (v3)")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "console"] = "json"
    default_currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    environment: Literal["dev", "test", "production"] = "dev"
    dedupe_window_days: int | None = Field(
        default=None, ge=1,
        description="Keep inbox rows and webhook delivery keys this long (default: the longest topic retention)")
    audit_retention_days: int = Field(default=400, ge=1,
                                      description="Keep audit history (decisions, changes) this long")
    prune_interval_seconds: float = Field(default=3600.0, gt=0, description="How often the pruning job runs")

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _host_port_list(cls, value: str | None) -> str | None:
        if value is None:
            return None
        for server in value.split(","):
            host, _, port = server.strip().rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"{server.strip()!r} is not host:port (expected e.g. 'kafka-0:9092,kafka-1:9092')")
        return value

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql:// URL, e.g. postgresql://user:pass@host:5432/roasloop")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.db_pool_min_size > self.db_pool_max_size:
            raise ValueError("ROASLOOP_DB_POOL_MIN_SIZE is larger than ROASLOOP_DB_POOL_MAX_SIZE")
        if self.kafka_security_protocol.startswith("SASL") and not (
            self.kafka_sasl_mechanism and self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise ValueError(
                "KAFKA_SECURITY_PROTOCOL=SASL_* needs KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME "
                "and KAFKA_SASL_PASSWORD"
            )
        if self.kafka_heartbeat_interval_ms * 3 > self.kafka_session_timeout_ms:
            raise ValueError("ROASLOOP_KAFKA_HEARTBEAT_INTERVAL_MS must be at most a third of the session timeout")
        if self.kafka_enable_idempotence and self.kafka_acks != "all":
            raise ValueError("KAFKA_ENABLE_IDEMPOTENCE=true requires KAFKA_ACKS=all")
        if bool(self.meta_access_token) != bool(self.meta_app_secret):
            raise ValueError("META_ACCESS_TOKEN and META_APP_SECRET must be set together")
        if self.environment == "production" and self.hash_key.get_secret_value().startswith("roasloop-dev"):
            raise ValueError("ROASLOOP_HASH_KEY must be set to a secret in production")
        return self

    @cached_property
    def meta_dry_run(self) -> bool:
        """With no Meta credentials the executor records what it would do and calls nothing."""
        return self.meta_access_token is None

    def require(self, *names: str) -> None:
        """Fail with a ConfigError if a setting a stage needs is missing."""
        missing = [n for n in names if getattr(self, n) is None]
        if missing:
            raise ConfigError("; ".join(f"{env_name(n)}: required by this command but not set" for n in missing))


def env_name(field: str, cls: type[BaseSettings] = Settings) -> str:
    """The environment variable an operator sets for a field of ``cls`` (its first alias)."""
    info = cls.model_fields[field]
    alias = info.validation_alias
    if isinstance(alias, AliasChoices):
        first = alias.choices[0]
        return first if isinstance(first, str) else field.upper()
    if isinstance(alias, str):
        return alias
    return str(cls.model_config.get("env_prefix", "")) + field.upper()


S = TypeVar("S", bound=BaseSettings)


@overload
def load_settings(cls: None = None, /, **overrides: object) -> Settings: ...
@overload
def load_settings(cls: type[S], /, **overrides: object) -> S: ...
def load_settings(cls: type[BaseSettings] | None = None, /, **overrides: object) -> BaseSettings:
    """Read the environment into ``cls`` (the shared :class:`Settings` by default).

    On any bad value raise :class:`ConfigError` naming each environment variable and why, so a
    process fails at start with a message an operator can act on, not a traceback.
    """
    model = cls or Settings
    try:
        return model.model_validate(overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            loc = [str(p) for p in err["loc"]]
            field = loc[0] if loc else ""
            name = env_name(field, model) if field in model.model_fields else (field or "settings")
            problems.append(f"{name}: {err['msg']}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None
