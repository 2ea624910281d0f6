"""The whole loop, end to end: the simulated market through ingress, broker, every stage and Meta.

A shortened ``roasloop dev``: real processes and servers, nothing mocked. Money must flow through
every stage, and the budget must move toward the ad set the market knows is best. 70 s at 4 s a
day is 17 simulated days: at 50 s most runs end with the best ad set at ~0.9 of the budget, but
the market's own luck sometimes leaves the two better ad sets close for the first 12 days.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from streams.dev.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def summary() -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL")}
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", "dev", "--duration", "70", "--seconds-per-day", "4", "--json",
         "--port", str(free_port())],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env=env,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    parsed: dict[str, object] = json.loads(result.stdout)
    return parsed


@pytest.mark.e2e
def test_money_flows_through_every_stage(summary: dict[str, object]) -> None:
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
def test_budget_moves_toward_the_truly_best_ad_set(summary: dict[str, object]) -> None:
    [campaign] = summary["campaigns"]  # type: ignore[misc]
    assert campaign["best_share_end"] > campaign["best_share_start"] + 0.05, campaign
