"""The whole loop, end to end: the simulated market through ingress, broker, every stage and Meta.

A shortened ``roasloop dev``: real processes and servers, nothing mocked. Money must flow through
every stage, and the budget must move toward the ad set the market knows is best. 70 s at 4 s a
day is 17 simulated days: at 50 s most runs end with the best ad set at ~0.9 of the budget, but
the market's own luck sometimes leaves the two better ad sets close for the first 12 days.

The run uses the session's broker and database under its own topic prefix and schema, so its
topics outlive it and the backtest can replay what the live sampler decided.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from schemas.events import AllocationDecided
from streams.core.naming import unprefixed
from streams.core.settings import Settings, load_settings
from streams.lab.backtest.engine import replay_async
from streams.lab.backtest.kafka_source import read_range
from streams.lab.backtest.policies import policy_by_name
from streams.lab.backtest.records import TimeRange
from streams.lab.dev.ports import free_port
from streams.lab.dev.simulation import SAMPLER_ENVIRONMENT
from tests.infra import drop_topics

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class DevRun:
    summary: dict[str, Any]
    settings: Settings
    started: datetime
    ended: datetime
    export: Path
    stderr: str


@pytest.fixture(scope="module")
def run(kafka_bootstrap: str, pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevRun]:
    run_id = uuid.uuid4().hex[:8]
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "DATABASE_URL": pg_url,
           "ROASLOOP_TOPIC_PREFIX": f"e2e{run_id}.", "ROASLOOP_DATABASE_SCHEMA": f"e2e_{run_id}",
           "ROASLOOP_KAFKA_SESSION_TIMEOUT_MS": "3000", "ROASLOOP_KAFKA_HEARTBEAT_INTERVAL_MS": "1000"}
    started = datetime.now(UTC)
    export = tmp_path_factory.mktemp("dev") / "run.jsonl"
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", "dev", "--duration", "70", "--seconds-per-day", "4", "--json",
         "--port", str(free_port()), "--export", str(export)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env=env,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    settings = load_settings(kafka_bootstrap_servers=kafka_bootstrap, database_url=pg_url,
                             topic_prefix=f"e2e{run_id}.", database_schema=f"e2e_{run_id}")
    yield DevRun(json.loads(result.stdout), settings, started, datetime.now(UTC), export, result.stderr)
    asyncio.run(drop_topics(kafka_bootstrap, settings.topic_prefix))


@pytest.fixture(scope="module")
def summary(run: DevRun) -> dict[str, Any]:
    """The run's summary, its topics named as in the catalog (without the run's prefix)."""
    topics = {unprefixed(run.settings, name): count for name, count in run.summary["topics"].items()}
    return {**run.summary, "topics": topics}


@pytest.mark.e2e
def test_money_flows_through_every_stage(summary: dict[str, Any]) -> None:
    topics = summary["topics"]
    assert isinstance(topics, dict)
    for name in ("clicks.v1", "crm.deal-stage.v1", "conversions.attributed.v1", "revenue.v1", "spend.v1",
                 "decisions.v1", "budget.requests.v1", "budget.outcomes.v1"):
        assert topics[name] > 0, f"nothing flowed through {name}"
    assert all(count == 0 for name, count in topics.items() if name.endswith(".dlq")), topics
    [campaign] = summary["campaigns"]  # type: ignore[misc]
    assert campaign["clicks"] > 0
    assert sum(campaign["deals_attributed"].values()) > 0
    assert campaign["pipeline_revenue_minor"] > 0
    assert campaign["spend_minor"] > 0
    applied = campaign["changes_by_outcome"].get("completed", 0) + campaign["changes_by_outcome"].get("clamped", 0)
    assert applied > 0


@pytest.mark.e2e
def test_budget_moves_toward_the_truly_best_ad_set(summary: dict[str, Any]) -> None:
    [campaign] = summary["campaigns"]  # type: ignore[misc]
    assert campaign["best_share_end"] > campaign["best_share_start"] + 0.05, campaign


@pytest.mark.e2e
async def test_replaying_the_run_with_the_logged_policy_and_seed_reproduces_every_decision(
    run: DevRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The live sampler decided while lagging behind its topics; its logged evidence lets the replay
    rebuild exactly the state each decision saw, so ``thompson`` with the logged seeds decides the same."""
    for name, value in SAMPLER_ENVIRONMENT.items():  # the dev sampler's settings, as an analyst would set them
        monkeypatch.setenv(name, value)
    records = read_range(run.settings, TimeRange(run.started - timedelta(minutes=1), run.ended + timedelta(minutes=1)))
    result = await replay_async(records, [policy_by_name("thompson"), policy_by_name("thompson@7")])
    logged = [d.event for d in result.logged]
    assert len(logged) >= 20, "too few decisions to say anything"
    assert all(isinstance(d, AllocationDecided) and d.evidence for d in logged)
    assert result.incomplete_evidence == 0 and result.other_settings == 0
    expected = [(tuple(a.share for a in d.allocations), tuple(a.budget_minor for a in d.allocations)) for d in logged]
    replayed = [(d.choice.shares, d.choice.budgets) for d in result.runs[0].decisions]
    mismatched = [d.decision_id for d, r, e in zip(logged, replayed, expected, strict=True) if r != e]
    assert not mismatched, f"{len(mismatched)} of {len(logged)} decisions differ, first {mismatched[:3]}"
    assert [(d.choice.shares, d.choice.budgets) for d in result.runs[1].decisions] != expected  # the seed matters


@pytest.mark.e2e
def test_the_exported_run_replays_from_the_command_line_it_prints(run: DevRun) -> None:
    """``roasloop dev --export`` prints the replay command, with the dev sampler's settings; run as
    printed, every logged decision is reproduced by ``thompson``."""
    [hint] = [line.strip() for line in run.stderr.splitlines() if "roasloop replay --from-file" in line]
    words = hint.split()
    at = words.index("roasloop")
    env = {**os.environ, **dict(w.split("=", 1) for w in words[:at])}
    result = subprocess.run([sys.executable, "-m", "streams.cli", *words[at + 1:], "--json", "--no-progress",
                             "--bootstrap", "50", "--report", str(run.export.with_suffix(".html"))],
                            cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-4000:]
    meta = json.loads(result.stdout)["meta"]
    assert meta["decisions"] >= 20 and meta["same_as_logged"] == {"logged": meta["decisions"],
                                                                   "thompson": meta["decisions"]}
    assert meta["incomplete_evidence"] == 0 and meta["other_sampler_settings"] == 0
    assert "warning" not in result.stderr
