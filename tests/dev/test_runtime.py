"""``roasloop dev`` and ``roasloop migrate`` as a user runs them: real processes, clean exits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psutil
import pytest

from streams.dev.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


def roasloop(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def children_named(*names: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "cmdline", "ppid"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if any(n in cmd for n in names):
            found.append(proc)
    return found


@pytest.mark.slow
def test_dev_runs_for_a_duration_then_stops_everything_and_prints_topic_counts(tmp_path: Path) -> None:
    before = {p.pid for p in children_named("tansu", "roasloop-pg-")}
    env = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL")}
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", "dev", "--duration", "6", "--json", "--no-simulate",
         "--port", str(free_port())],
        cwd=ROOT, capture_output=True, text=True, timeout=180, env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert "clicks.v1" in summary["topics"]
    assert all(isinstance(v, int) for v in summary["topics"].values())
    leftovers = [p for p in children_named("tansu", "roasloop-pg-") if p.pid not in before and p.is_running()
                 and p.status() != psutil.STATUS_ZOMBIE]
    assert leftovers == []


def test_migrate_is_idempotent_from_the_command_line(pg_url: str) -> None:
    env = {"DATABASE_URL": pg_url, "ROASLOOP_DATABASE_SCHEMA": f"cli_{uuid.uuid4().hex[:8]}"}
    first = roasloop("migrate", env=env)
    second = roasloop("migrate", env=env)
    assert first.returncode == 0, first.stderr
    assert "0001_core.sql" in first.stdout
    assert second.returncode == 0 and "schema up to date" in second.stdout


def test_a_bad_setting_stops_the_command_with_a_clear_message() -> None:
    result = roasloop("migrate", env={"DATABASE_URL": "mysql://nope"})
    assert result.returncode == 2
    assert "DATABASE_URL" in result.stderr and "postgresql://" in result.stderr
    assert "Traceback" not in result.stderr
