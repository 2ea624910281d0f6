"""Kill the alerts stage mid-stream (SIGKILL, as a crashed pod) and start another: no alert lost or
duplicated - one row, one notice and one alerts.v1 event id per condition, and every notice at the
webhook and in the mailbox.

Delivery to the outside is at-least-once: a process killed after a webhook answered but before the
row was marked sent sends it again after its backoff, with the same ``X-Roasloop-Notice-Id``. The
receiver here counts distinct ids, as a deduplicating receiver does; repeats are printed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from schemas import AlertNotified, decode_as
from schemas.topics import ALERTS
from streams.core.clock import WallClock
from streams.core.settings import Settings, env_name
from streams.core.stage import StageRunner
from streams.lab.dev.ports import free_port
from tests.alerts.conftest import TENANT, Sinks, hours, outcome
from tests.helpers import read_records, wait_until

ROOT = Path(__file__).resolve().parents[2]
CAMPAIGNS = 40


def start_alerts(settings: Settings, sinks: Sinks, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    fields = ("kafka_bootstrap_servers", "database_url", "database_schema", "topic_prefix", "environment")
    env = {**os.environ, **{env_name(f): str(getattr(settings, f)) for f in fields},
           "ROASLOOP_KAFKA_SESSION_TIMEOUT_MS": "3000", "ROASLOOP_KAFKA_HEARTBEAT_INTERVAL_MS": "1000",
           "ROASLOOP_ALERTS_WEBHOOK_URL": sinks.webhook.url, "ROASLOOP_ALERTS_ALLOW_LOCAL_WEBHOOKS": "true",
           "ROASLOOP_ALERTS_EMAIL_TO": "ops@example.com", "ROASLOOP_ALERTS_SMTP_HOST": "127.0.0.1",
           "ROASLOOP_ALERTS_SMTP_PORT": str(sinks.smtp.port), "ROASLOOP_ALERTS_SMTP_SECURITY": "none",
           "ROASLOOP_ALERTS_DELIVERY_INTERVAL_SECONDS": "0.05", "ROASLOOP_ALERTS_RETRY_BASE_SECONDS": "1",
           "ROASLOOP_ALERTS_SWEEP_INTERVAL_SECONDS": "1", "ROASLOOP_ALERTS_REPORTS": "false"}
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "streams.cli", "run", "alerts", "--port", str(port)],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    return proc, port


async def ready(port: int) -> bool:
    try:
        async with httpx.AsyncClient() as client:
            return (await client.get(f"http://127.0.0.1:{port}/readyz", timeout=1)).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.slow
async def test_a_killed_alerts_stage_loses_and_duplicates_no_alert(
        settings: Settings, db_pool: asyncpg.Pool[Any], sinks: Sinks, tmp_path: Path) -> None:
    await db_pool.execute("INSERT INTO tenants (tenant_id) VALUES ($1)", TENANT)
    producer = StageRunner([], settings, clock=WallClock())
    await producer.open()
    log = tmp_path / "alerts.log"
    first, port = start_alerts(settings, sinks, log)
    second: subprocess.Popen[bytes] | None = None
    try:
        await wait_until(lambda: ready(port), timeout=60)
        now = WallClock().now()
        for c in range(CAMPAIGNS):
            await producer.resources.publisher.publish_many(
                [outcome("blocked", at=now - hours(3 - i), campaign=f"c{c:02d}") for i in range(3)])
            if c == CAMPAIGNS // 3:
                await wait_until(lambda: db_pool.fetchval("SELECT count(*) > 3 FROM alerts"), timeout=60)
                first.send_signal(signal.SIGKILL)
                first.wait(10)
        raised_before = await db_pool.fetchval("SELECT count(*) FROM alerts")
        assert raised_before < CAMPAIGNS, "the kill came after everything was done: the test proves nothing"
        second, port = start_alerts(settings, sinks, log)
        await wait_until(lambda: db_pool.fetchval("SELECT count(*) = $1 FROM alerts", CAMPAIGNS), timeout=90)
        await wait_until(lambda: db_pool.fetchval("SELECT count(*) = 0 FROM alert_deliveries WHERE status <> 'sent'"),
                         timeout=60)
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
        await producer.close()
        await producer.resources.broker.stop()

    rows = await db_pool.fetch("SELECT subject, notices, episode FROM alerts ORDER BY subject")
    assert [(r["subject"], r["notices"], r["episode"]) for r in rows] == [
        (f"c{c:02d}", 1, 1) for c in range(CAMPAIGNS)]
    ids = {r["event_id"] for r in await db_pool.fetch("SELECT event_id FROM alert_notices")}
    assert len(ids) == CAMPAIGNS
    events = [decode_as(r.value, AlertNotified) for r in await read_records(settings, ALERTS, min_count=CAMPAIGNS)]
    assert {e.event_id for e in events} == ids  # a republish after the kill carries the same id
    assert len({e.alert_id for e in events}) == CAMPAIGNS
    await asyncio.sleep(0.5)
    for channel in ("webhook", "email"):
        received = Counter(sinks.notices(channel))
        assert set(received) == ids, channel
        repeats = {k: n for k, n in received.items() if n > 1}
        print(f"{channel}: {sum(received.values())} received, {len(ids)} distinct, repeats {repeats}")
    print(f"alerts raised before the kill: {raised_before} of {CAMPAIGNS}; log: {log.read_text()[-300:]}")
