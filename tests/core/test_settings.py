"""Settings: operator-facing names, and a start-up failure that names the setting and why."""

from __future__ import annotations

import pytest

from streams.core.errors import ConfigError
from streams.core.settings import load_settings


def test_operator_names_are_read_without_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-0:9092,kafka-1:9092")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db:5432/roasloop")
    monkeypatch.setenv("META_API_VERSION", "v25.0")
    settings = load_settings()
    assert settings.kafka_bootstrap_servers == "kafka-0:9092,kafka-1:9092"
    assert settings.database_url == "postgresql://u:p@db:5432/roasloop"
    assert settings.meta_api_version == "v25.0"


def test_meta_api_version_defaults_to_v26() -> None:
    assert load_settings().meta_api_version == "v26.0"


def test_own_settings_take_the_roasloop_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROASLOOP_LOG_LEVEL", "DEBUG")
    assert load_settings().log_level == "DEBUG"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("KAFKA_BOOTSTRAP_SERVERS", "kafka-without-port", "KAFKA_BOOTSTRAP_SERVERS: .*not host:port"),
        ("DATABASE_URL", "mysql://db/roasloop", "DATABASE_URL: .*postgresql://"),
        ("META_API_VERSION", "26", "META_API_VERSION: .*pattern"),
        ("KAFKA_ACKS", "2", "KAFKA_ACKS: .*'all', '1' or '0'"),
        ("ROASLOOP_HTTP_PORT", "70000", "ROASLOOP_HTTP_PORT: .*less than or equal to 65535"),
    ],
)
def test_a_bad_setting_fails_naming_the_setting_and_why(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        load_settings()


def test_idempotence_without_acks_all_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_ENABLE_IDEMPOTENCE", "true")
    with pytest.raises(ConfigError, match="KAFKA_ENABLE_IDEMPOTENCE=true requires KAFKA_ACKS=all"):
        load_settings()


def test_sasl_needs_its_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    with pytest.raises(ConfigError, match="KAFKA_SASL_MECHANISM"):
        load_settings()


def test_secrets_do_not_show_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("META_ACCESS_TOKEN", "EAAB-super-secret")
    monkeypatch.setenv("META_APP_SECRET", "app-secret-value")
    settings = load_settings()
    assert "super-secret" not in repr(settings)
    assert "app-secret-value" not in str(settings.model_dump())
    assert settings.meta_dry_run is False


def test_without_meta_credentials_the_executor_runs_dry() -> None:
    assert load_settings().meta_dry_run is True


def test_sasl_ssl_client_options_carry_credentials_without_logging_them(monkeypatch: pytest.MonkeyPatch) -> None:
    from streams.core.broker import client_options

    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka:9093")
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "roasloop")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "s3cret")
    options = client_options(load_settings())
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_password"] == "s3cret"
    assert options["ssl_context"] is not None
