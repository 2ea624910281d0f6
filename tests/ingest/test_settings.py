"""The ingest settings: ad accounts parsed, bad values named by their environment variable."""

from __future__ import annotations

import pytest

from streams.core.errors import ConfigError
from streams.ingest.settings import load_ingest_settings


def test_insights_accounts_are_tenant_account_pairs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROASLOOP_INGEST_INSIGHTS_ACCOUNTS", "acme=act_1, globex=22")
    assert load_ingest_settings().accounts() == [("acme", "act_1"), ("globex", "act_22")]


def test_a_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROASLOOP_INGEST_WEBHOOK_MAX_BODY_BYTES", "tiny")
    with pytest.raises(ConfigError, match="ROASLOOP_INGEST_WEBHOOK_MAX_BODY_BYTES"):
        load_ingest_settings()
    monkeypatch.delenv("ROASLOOP_INGEST_WEBHOOK_MAX_BODY_BYTES")
    monkeypatch.setenv("ROASLOOP_INGEST_INSIGHTS_ACCOUNTS", "act_1")
    with pytest.raises(ConfigError, match="INSIGHTS_ACCOUNTS"):
        load_ingest_settings()
