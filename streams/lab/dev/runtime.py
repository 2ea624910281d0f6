"""``roasloop dev``: the whole pipeline on this machine, in one command.

Starts (unless the environment names real ones) the local broker and a local PostgreSQL,
migrates, creates the catalog's topics, starts every stage that exists behind one HTTP server,
optionally drives the simulated market through it, and on Ctrl-C or after ``--duration`` shuts
everything down in reverse order - no orphan broker or postgres left - and prints a summary.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
import uvicorn

from streams.core.clock import Clock, WallClock
from streams.core.db import connect
from streams.core.http import build_asgi
from streams.core.logging import configure_logging
from streams.core.migrate import migrate
from streams.core.settings import Settings, load_settings
from streams.core.stage import StageRunner
from streams.core.topics_admin import ensure_topics
from streams.lab.dev.faults import Fault, inject
from streams.lab.dev.issuer import DEFAULT_PATH as ISSUER_PATH
from streams.lab.dev.issuer import LocalIssuer
from streams.lab.dev.sign_in import JWKS_PATH, DevSignIn
from streams.lab.dev.summary import format_table, topic_counts
from streams.stages import all_stages

log = structlog.get_logger("roasloop.dev")
DEV_TENANT = "dev"
"""The tenant the console signs in to when no simulated market runs (``--no-simulate``)."""


@dataclass(frozen=True)
class DevOptions:
    port: int = 8000
    duration: float | None = None
    simulate: bool = True
    scenario: str | None = None
    seed: int = 7
    as_json: bool = False
    seconds_per_day: float = 6.0
    export: Path | None = None
    """Where to write the run's replayable records on stopping (the local broker's topics die with it)."""
    issuer_path: Path = ISSUER_PATH
    """The dev issuer's key (``roasloop token`` signs with the same one)."""
    faults: tuple[Fault, ...] = ()
    """Faults to inject on schedule (``--fault``), to see the alerts arrive."""
    priors_history: int = 0
    """Past runs of the scenario seeded as the tenant's history; > 0 also runs the priors cycle."""


@contextlib.contextmanager
def local_infrastructure() -> Any:
    """Yield (bootstrap_servers, database_url), starting local servers only where none is named."""
    with contextlib.ExitStack() as stack:
        servers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if not servers:
            from streams.lab.dev.broker import LocalBroker

            servers = stack.enter_context(LocalBroker()).bootstrap_servers
        url = os.environ.get("DATABASE_URL")
        if not url:
            from streams.lab.dev.postgres import LocalPostgres

            url = stack.enter_context(LocalPostgres()).url
        yield servers, url


async def prepare(settings: Settings) -> None:
    conn = await connect(settings)
    try:
        await migrate(conn, settings.database_schema)
    finally:
        await conn.close()
    await ensure_topics(settings)


@contextlib.asynccontextmanager
async def serve(runner: StageRunner, settings: Settings, port: int) -> AsyncIterator[uvicorn.Server]:
    config = uvicorn.Config(build_asgi(runner), host=settings.http_host, port=port, log_level="warning",
                            access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    # Signals are ours (they stop the whole runtime in order), not uvicorn's.
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("HTTP server failed to start")
        await asyncio.sleep(0.05)
    try:
        yield server
    finally:
        server.should_exit = True
        await task


async def run_async(options: DevOptions, settings: Settings) -> dict[str, Any]:
    sandbox = None
    if options.simulate:
        from streams.lab.dev.simulation import Sandbox

        sandbox = Sandbox.start(options.scenario, options.seed, options.seconds_per_day)
    try:
        return await _run_stack(options, settings, sandbox)
    finally:
        if sandbox is not None:
            sandbox.stop()


def console_sign_in(settings: Settings, port: int, tenant_id: str,
                    issuer_path: Path = ISSUER_PATH) -> tuple[Settings, DevSignIn]:
    """Trust the dev issuer's tokens (served by this process) and offer its sign-in on the console page."""
    issuer = LocalIssuer.load_or_create(issuer_path)
    settings = load_settings(**{**settings.model_dump(), "firebase_project_id": issuer.project,
                                "firebase_jwks_url": f"http://{settings.http_host}:{port}{JWKS_PATH}"})
    os.environ.update({"ROASLOOP_CONSOLE_DEV_SIGN_IN": "true", "ROASLOOP_CONSOLE_DEV_TENANT": tenant_id})
    return settings, DevSignIn(issuer, tenant_id)


@dataclass(frozen=True)
class DevStack:
    """A running dev stack: its stages, settings, sandbox (None with ``--no-simulate``) and address."""

    runner: StageRunner
    settings: Settings
    sandbox: Any
    base_url: str
    tenant_id: str
    market_stop: asyncio.Event | None = None
    """Set it to stop the simulated market early (the stages keep running)."""


@contextlib.asynccontextmanager
async def dev_stack(options: DevOptions, settings: Settings, sandbox: Any) -> AsyncIterator[DevStack]:
    """Every stage behind one HTTP server, the console's dev sign-in, and the market playing through it."""
    clock: Clock = WallClock()
    if sandbox is not None:
        settings = load_settings(**{**settings.model_dump(), **sandbox.settings_overrides()})
        os.environ.update(sandbox.stage_environment())
        clock = sandbox.clock
    tenant_id = sandbox.tenant_id if sandbox is not None else DEV_TENANT
    settings, sign_in = console_sign_in(settings, options.port, tenant_id, options.issuer_path)
    await prepare(settings)
    if sandbox is not None:
        await sandbox.seed(settings)
    cycle = None
    if sandbox is not None and options.priors_history > 0:
        from streams.lab.dev.simulation import DEFAULT_SCENARIO as sandbox_default
        from streams.lab.priors.dev_history import start_dev_priors

        os.environ["ROASLOOP_SAMPLER_PRIORS_REFRESH_SECONDS"] = "1"
        cycle = await start_dev_priors(settings, sandbox.market, options.scenario or sandbox_default,
                                       options.priors_history, clock, options.seconds_per_day)
    runner = StageRunner([*all_stages(), sign_in], settings, clock=clock)
    async with serve(runner, settings, options.port):
        base_url = f"http://{settings.http_host}:{options.port}"
        print(f"roasloop dev: stages {[s.name for s in runner.stages]} at {base_url} "
              f"(broker {settings.kafka_bootstrap_servers})", file=sys.stderr)
        print(f"roasloop dev: console at {base_url}/console/ - sign in as VIEWER, EDITOR or ADMIN of {tenant_id}; "
              f"for scripts: roasloop token --role EDITOR --tenant {tenant_id}", file=sys.stderr)
        async with contextlib.AsyncExitStack() as stack:
            market_stop = None
            if sandbox is not None:
                from streams.lab.dev.simulation import playing

                market_stop = await stack.enter_async_context(playing(sandbox, base_url, options.seconds_per_day))
                if options.faults:
                    faults = asyncio.create_task(inject(list(options.faults), sandbox, runner))
                    stack.callback(faults.cancel)
            if cycle is not None:
                stack.callback(cycle.cancel)
            yield DevStack(runner, settings, sandbox, base_url, tenant_id, market_stop)
        if sandbox is not None:
            await asyncio.sleep(1.0)  # the market stopped: let in-flight events settle before the stages stop


async def _run_stack(options: DevOptions, settings: Settings, sandbox: Any) -> dict[str, Any]:
    started = datetime.now(UTC)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    summary: dict[str, Any] = {}
    async with dev_stack(options, settings, sandbox) as stack:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=options.duration)
        settings = stack.settings
    if sandbox is not None:
        summary.update(await sandbox.summary(settings))
        if options.priors_history > 0:
            from streams.lab.priors.dev_history import priors_summary

            summary["priors"] = await priors_summary(settings, sandbox.tenant_id)
    summary["topics"] = await topic_counts(settings)
    if options.export is not None:
        await export_run(settings, options.export, started)
    return summary


async def export_run(settings: Settings, path: Path, started: datetime) -> None:
    """Write the run's replayable records and say how to replay them with the run's sampler settings."""
    from streams.lab.backtest.export import write_jsonl
    from streams.lab.backtest.kafka_source import read_range
    from streams.lab.backtest.records import TimeRange
    from streams.lab.dev.simulation import SAMPLER_ENVIRONMENT

    start, end = started - timedelta(minutes=1), datetime.now(UTC) + timedelta(minutes=1)
    count = await write_jsonl(read_range(settings, TimeRange(start, end)), path)
    env = " ".join(f"{k}={v}" for k, v in SAMPLER_ENVIRONMENT.items())
    print(f"roasloop dev: {count} records written to {path}; replay them with the dev sampler's settings:\n"
          f"  {env} roasloop replay --from-file {path} --from {start:%Y-%m-%dT%H:%M:%SZ}"
          f" --to {end:%Y-%m-%dT%H:%M:%SZ} --policy thompson --report report.html", file=sys.stderr)


def run_dev(options: DevOptions) -> int:
    own_broker = not os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    with local_infrastructure() as (servers, url):
        # The local broker holds a group join for half the session timeout: keep it short so the
        # stack is consuming within seconds (a real cluster keeps the operator's setting).
        fast_joins: dict[str, Any] = (
            {"kafka_session_timeout_ms": 3_000, "kafka_heartbeat_interval_ms": 1_000} if own_broker else {}
        )
        settings = load_settings(kafka_bootstrap_servers=servers, database_url=url, http_port=options.port,
                                 **fast_joins)
        configure_logging(settings.log_level, "console")
        summary = asyncio.run(run_async(options, settings))
    if options.as_json:
        print(json.dumps(summary, indent=2, sort_keys=True, default=str))
    else:
        print(format_table(summary["topics"]))
        for campaign in summary.get("campaigns", []):
            print(json.dumps(campaign, sort_keys=True, default=str))
    return 0
