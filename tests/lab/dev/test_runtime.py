"""``roasloop dev`` and ``roasloop migrate`` as a user runs them: real processes, clean exits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest

from streams.lab.dev.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


def roasloop(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def started_servers(dev: psutil.Process, since: float) -> list[psutil.Process]:
    """The broker the dev process started (its child) and the PostgreSQL it started (by data dir)."""
    found = list(dev.children(recursive=True))
    for proc in psutil.process_iter(["cmdline", "create_time"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if "roasloop-pg-" in cmd and (proc.info["create_time"] or 0) >= since - 1:
            found.append(proc)
    return found


@pytest.mark.slow
def test_dev_runs_for_a_duration_then_stops_everything_and_prints_topic_counts() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL")}
    started = time.time()
    dev = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "dev", "--duration", "6", "--json", "--no-simulate",
         "--port", str(free_port())],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    servers: list[psutil.Process] = []
    deadline = time.monotonic() + 60
    while dev.poll() is None and time.monotonic() < deadline:
        servers = started_servers(psutil.Process(dev.pid), started)
        if len(servers) > 1:  # the broker and the database are up
            break
        time.sleep(0.2)
    stdout, stderr = dev.communicate(timeout=180)
    assert dev.returncode == 0, stderr[-3000:]
    summary = json.loads(stdout)
    assert "clicks.v1" in summary["topics"]
    assert all(isinstance(v, int) for v in summary["topics"].values())
    assert len(servers) > 1, "the dev process did not start a broker and a database"

    def alive(proc: psutil.Process) -> bool:
        try:
            return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    assert [p for p in servers if alive(p)] == []


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
