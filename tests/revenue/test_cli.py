"""``roasloop stage-values`` reads and sets a tenant's values through the real database."""

from __future__ import annotations

import json

import pytest

from streams.cli import main
from streams.core.settings import Settings
from streams.revenue.cli import parse_assignments


def test_stage_values_command_sets_then_shows_values(settings: Settings, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DATABASE_URL", settings.database_url or "")
    monkeypatch.setenv("ROASLOOP_DATABASE_SCHEMA", settings.database_schema)
    assert main(["stage-values", "acme", "--set", "lead=75000", "--actor", "ops"]) == 0
    assert main(["stage-values", "acme"]) == 0
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert first == second == {"tenant_id": "acme", "currency": "USD", "lead": 75_000, "appointment": 150_000,
                               "won": 500_000}


def test_malformed_assignments_are_refused() -> None:
    with pytest.raises(ValueError, match="STAGE=MINOR"):
        parse_assignments(["lead:5"])
