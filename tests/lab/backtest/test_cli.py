"""``roasloop export`` then ``roasloop replay --from-file``: the analyst's round trip, as commands."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from streams.cli import main
from streams.core.settings import Settings
from streams.lab.backtest.cli import register
from tests.helpers import raw_producer
from tests.lab.backtest.factories import publish
from tests.lab.backtest.synthetic import synthetic_run

RANGE = ["--from", "2026-03-01T00:00:00Z", "--to", "2026-03-31T00:00:00+00:00"]


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="roasloop")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


@pytest.fixture
async def published(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    async with raw_producer(settings) as producer:
        await publish(producer, settings, synthetic_run(2, policy="bernoulli-ts"))
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", settings.kafka_bootstrap_servers or "")
    monkeypatch.setenv("ROASLOOP_TOPIC_PREFIX", settings.topic_prefix)
    return settings


def test_export_then_replay_from_file_prints_json_and_writes_the_report(
    published: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "range.jsonl"
    assert _run(["export", *RANGE, "--out", str(export)]) == 0
    assert "records written" in capsys.readouterr().err
    lines = export.read_text().splitlines()
    assert len(lines) > 20 and json.loads(lines[0])["topic"] in ("spend.v1", "revenue.v1", "decisions.v1")

    report = tmp_path / "r.html"
    code = _run(["replay", *RANGE, "--from-file", str(export), "--policy", "equal", "--policy", "bernoulli-ts",
                 "--json", "--report", str(report), "--bootstrap", "40"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert [p["policy"] for p in data["policies"]] == ["logged", "equal", "bernoulli-ts"]
    assert report.read_text().startswith("<!doctype html>")

    kafka = _run(["replay", *RANGE, "--policy", "equal", "--json", "--bootstrap", "40", "--no-progress"])
    assert kafka == 0
    assert json.loads(capsys.readouterr().out)["policies"] == data["policies"][:2]


def test_a_time_without_zone_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _run(["replay", "--from", "2026-03-01T00:00:00", "--to", "2026-03-02T00:00:00Z"])
    assert "no time zone" in capsys.readouterr().err


def test_replay_follows_a_campaign_window_set_with_the_executor_command(
    published: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The newcomer's path: one command sets the window, the next backtest reports what it changes."""
    export = tmp_path / "range.jsonl"
    assert _run(["export", *RANGE, "--out", str(export)]) == 0
    replay = ["replay", *RANGE, "--from-file", str(export), "--policy", "greedy", "--json", "--bootstrap", "20"]
    monkeypatch.setenv("DATABASE_URL", published.database_url or "")
    monkeypatch.setenv("ROASLOOP_DATABASE_SCHEMA", published.database_schema)
    window = ["--campaign", "g1", "--change-window-hours", "24"]
    assert main(["executor", "limits", "set", "--tenant", "acme", *window]) == 0
    capsys.readouterr()

    assert _run([*replay, "--limits-from", "settings"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert _run(replay) == 0  # auto: DATABASE_URL is set, so the stored overrides apply
    tuned = json.loads(capsys.readouterr().out)

    assert plain["guardrail_limits"]["source"] == "settings"
    assert tuned["guardrail_limits"]["overrides"] == [{"tenant_id": "acme", "campaign_id": "g1",
                                                       "change_window_hours": 24.0}]
    assert _blocked(tuned) > _blocked(plain)  # decisions 12 h apart: only a 24 h window holds two moves


def _blocked(data: dict[str, Any]) -> int:
    return sum(i["outcome"] == "blocked" for i in data["guardrail_interventions"]["greedy"])
