"""Chaos run: every stage as N processes, killed, redeployed and rescaled, Meta failing, poison everywhere.

Starts the local broker and PostgreSQL (or uses ``KAFKA_BOOTSTRAP_SERVERS`` / ``DATABASE_URL``),
migrates a fresh schema, creates fresh topics, serves the Meta stand-in in this process with
throttling / 5xx / timeout faults at the given rates, and runs ingest, attribution, revenue,
sampler and executor each as ``--replicas`` processes of ``roasloop run <stage>`` (one consumer
group per stage). It publishes a fixed workload straight to Kafka (clicks, deals with stage
changes, spend snapshots) plus poison on every topic, feeds the ingress over HTTP (click redirects
and signed HubSpot webhooks, retried as HubSpot retries), and meanwhile disrupts the fleet
``--kills`` times: kill -9 of a random replica, a rolling restart of a stage (graceful stop + start,
replica by replica), scale up or scale down (:mod:`bench.chaos.fleet`). After the last disruption
it waits for the drain (every consumer group's committed offsets at the true end offsets, and no
new rows for a few seconds) and checks, from the outside, every promise the design makes. One
table per run; exit 1 on any FAIL.

Once per run (the second disruption, while the workload flows) the broker itself is restarted, and
while it is away signed webhooks are sent on purpose, so the ingress answers 503 and the check that
every 503 was retried and landed has something to check (it fails when a restart met no 503). The lab's broker
keeps topics in memory, so the chaos run starts its own Tansu on S3 storage served by moto
(:mod:`bench.chaos.broker`), whose topics and committed offsets survive the restart. With
``KAFKA_BOOTSTRAP_SERVERS`` set, the broker is not ours and is not restarted.

    .venv/bin/python bench/chaos.py --clicks 5000 --deals 500 --kills 4
    .venv/bin/python bench/chaos.py --replicas 2 --runs 3   # 100,000 clicks, 10,000 deals, 10 disruptions

Helpers live in ``bench/chaos/`` (workload, processes, checks).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from bench.chaos import checks, http_feed, outcomes
from bench.chaos.broker import RestartableBroker
from bench.chaos.fleet import Fleet, disrupt
from bench.chaos.workload import START_BUDGET_MINOR, Workload, build, spend_snapshots
from schemas.codec import encode
from schemas.topics import CATALOG, topic_for
from streams.attribution.resolver import CONSUMER as ATTRIBUTION_INBOX
from streams.core.db import connect
from streams.core.migrate import migrate
from streams.core.naming import topic_name
from streams.core.settings import Settings, load_settings
from streams.core.stage import StageRunner
from streams.core.topics_admin import ensure_topics
from streams.lab.sandbox.meta import create_meta_app
from streams.lab.sandbox.meta_state import MetaState
from streams.lab.sandbox.meta_usage import UsageTier
from streams.lab.sandbox.serve import BackgroundServer
from streams.stages import load_stage

STAGES = ("attribution", "revenue", "sampler", "executor")
PROCESSES = ("ingest", *STAGES)
FAULT_KINDS = ("http_500", "http_503", "timeout", "throttle_17", "throttle_613", "throttle_80004")


@dataclass
class Options:
    clicks: int = 100_000
    deals: int = 10_000
    kills: int = 10
    replicas: int = 1
    http_clicks: int = 0  # 0: clicks // 20
    webhook_deals: int = 0  # 0: deals // 10
    runs: int = 1
    seed: int = 11
    fault_rate: float = 0.01
    poison: int = 2
    kill_gap: tuple[float, float] = (4.0, 12.0)
    quiet_seconds: float = 6.0
    drain_timeout: float = 3600.0
    keep_logs: bool = False


@dataclass
class RunResult:
    run: int
    sent: Counter[str] = field(default_factory=Counter)
    kills: Counter[str] = field(default_factory=Counter)
    meta_faults: Counter[str] = field(default_factory=Counter)
    results: list[checks.Check] = field(default_factory=list)
    tally: checks.Tally = field(default_factory=checks.Tally)
    dlq: int = 0
    publish_seconds: float = 0.0
    drain_seconds: float | None = None
    log_dir: str = ""

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.results)


def stage_environment(settings: Settings, meta_url: str, meta: MetaState) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ROASLOOP_", "META_", "KAFKA_", "DATABASE_"))}
    env.update({
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers or "",
        "DATABASE_URL": settings.database_url or "",
        "ROASLOOP_TOPIC_PREFIX": settings.topic_prefix,
        "ROASLOOP_DATABASE_SCHEMA": settings.database_schema,
        "ROASLOOP_DB_POOL_MAX_SIZE": "6",
        "ROASLOOP_KAFKA_SESSION_TIMEOUT_MS": "3000",
        "ROASLOOP_KAFKA_HEARTBEAT_INTERVAL_MS": "500",
        "META_GRAPH_URL": meta_url,
        "META_ACCESS_TOKEN": meta.access_token,
        "META_APP_SECRET": meta.app_secret,
        "ROASLOOP_LOG_LEVEL": "INFO",
        # a deal waits (for its click to be indexed) far longer than the run: no expiry race
        "ROASLOOP_ATTRIBUTION_PENDING_SECONDS": "86400",
        # decide often enough that the executor has work within minutes, on wall time
        "ROASLOOP_SAMPLER_DEBOUNCE_SECONDS": "5",
        "ROASLOOP_SAMPLER_SIGNIFICANT_EVENTS": "20",
        "ROASLOOP_SAMPLER_DRAWS": "500",
        "ROASLOOP_EXECUTOR_JITTER_MIN_SECONDS": "0",
        "ROASLOOP_EXECUTOR_JITTER_MAX_SECONDS": "2",
        "ROASLOOP_EXECUTOR_META_TIMEOUT_SECONDS": "2",
        "ROASLOOP_EXECUTOR_BACKOFF_MAX_SECONDS": "20",
        "ROASLOOP_EXECUTOR_USAGE_PAUSE_SECONDS": "1",
        "HUBSPOT_CLIENT_SECRET": http_feed.SECRET,
        "ROASLOOP_INGEST_RATE_LIMIT_PER_SECOND": "10000",
        "ROASLOOP_INGEST_RATE_LIMIT_BURST": "10000",
        # answer (503) before HubSpot's own 5 s deadline when the broker is away; the default 10 s is past it
        "ROASLOOP_INGEST_PUBLISH_TIMEOUT_SECONDS": "3",
    })
    return env


def consuming_groups(settings: Settings) -> dict[str, list[str]]:
    """Consumer group -> topics, read off the stages' own subscriber registrations."""
    runner = StageRunner([load_stage(name) for name in STAGES], settings)
    subscribers: list[Any] = list(runner.resources.broker.subscribers)
    return {sub.group_id: list(sub.topic_names) for sub in subscribers}


def meta_world(work: Workload, fault_rate: float) -> MetaState:
    state = MetaState(tier=UsageTier(max_score=1e12, app_calls_per_hour=10**9))
    for adset in work.adsets:
        account = adset.tenant_id.removeprefix("t") + "1"
        if account not in state.accounts:
            state.add_account(account)
        if adset.campaign_id not in state.campaigns:
            state.add_campaign(adset.campaign_id, account)
        state.add_adset(adset.adset_id, adset.campaign_id, START_BUDGET_MINOR)
        for ad in adset.ad_ids:
            state.add_ad(ad, adset.adset_id)
    state.faults.timeout_seconds = 4.0
    return state


async def inject_faults(state: MetaState, rate: float, rng: random.Random) -> None:
    """About ``rate`` of the calls of each kind fail, with short announced waits.

    The stand-in's ``set_rate`` faults announce a 60 s wait, which the executor honours one campaign
    at a time; queueing them here with a few seconds' wait keeps the run's drain in minutes while
    every fault path (throttle codes, 5xx, timeouts that still apply the change) is exercised.
    """
    seen = 0
    while True:
        await asyncio.sleep(0.5)
        with state.lock:
            calls = len(state.requests)
        for _ in range(calls - seen):
            for kind in FAULT_KINDS:
                if rng.random() < rate:
                    state.faults.fail_next(kind, apply_effect=kind == "timeout" and rng.random() < 0.5,  # type: ignore[arg-type]
                                           retry_after_seconds=rng.randint(1, 8))
        seen = calls


class Sender:
    def __init__(self, settings: Settings, result: RunResult) -> None:
        self.settings, self.result = settings, result
        self.producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, linger_ms=20,
                                         max_batch_size=256 * 1024)

    async def events(self, events: list[Any], label: str, chunk: int = 2_000) -> None:
        for start in range(0, len(events), chunk):
            futures = []
            for event in events[start:start + chunk]:
                topic = topic_for(event)
                futures.append(await self.producer.send(topic_name(self.settings, topic), encode(event),
                                                        key=topic.key(event)))
            await asyncio.gather(*futures)
        self.result.sent[label] += len(events)

    async def poison(self, per_kind: int) -> dict[str, int]:
        """Undecodable bytes and schema-invalid JSON on every catalog topic."""
        injected: dict[str, int] = {}
        for topic in CATALOG:
            name = topic_name(self.settings, topic)
            bodies = [b"\xff\xfe\x00 not json" for _ in range(per_kind)]
            bodies += [b'{"event_type": "%s", "tenant_id": 42, "event_id": ""}' % topic.model.__name__.encode()
                       for _ in range(per_kind)]
            for i, body in enumerate(bodies):
                await (await self.producer.send(name, body, key=f"t0:poison-{i}".encode()))
            injected[name] = len(bodies)
        self.result.sent["poison"] += sum(injected.values())
        return injected


def chunks(items: list[Any], n: int) -> list[list[Any]]:
    size = -(-len(items) // n)
    return [items[i * size:(i + 1) * size] for i in range(n)]


async def drain(settings: Settings, groups: dict[str, list[str]], fleet: Fleet, opts: Options) -> float | None:
    """Seconds until every group's lag is zero and nothing changed for ``quiet_seconds``."""
    started = time.monotonic()
    conn = await connect(settings)
    try:
        last: tuple[int, ...] | None = None
        stable_since = time.monotonic()
        while time.monotonic() - started < opts.drain_timeout:
            fleet.revive()
            try:
                lag = await checks.group_lag(settings, groups)
            except KafkaError as exc:  # a broker slow to answer one probe (S3-backed, busy machine): ask again
                print(f"  drain probe failed ({type(exc).__name__}); asking again", flush=True)
                await asyncio.sleep(2.0)
                continue
            now_rows = await checks.snapshot(conn)
            if now_rows != last:
                last, stable_since = now_rows, time.monotonic()
            busy = {g.removeprefix(settings.topic_prefix): n for g, n in lag.items() if n}
            quiet = time.monotonic() - stable_since
            if not busy and quiet >= opts.quiet_seconds and now_rows[4] == 0:
                return time.monotonic() - started - quiet
            elapsed = time.monotonic() - started
            if int(elapsed) % 20 < 3:
                print(f"  draining {elapsed:5.0f}s: lag {busy or 0}, rows {now_rows}", flush=True)
            await asyncio.sleep(2.0)
        return None
    finally:
        await conn.close()


async def run_once(index: int, opts: Options, bootstrap: str, url: str, broker: RestartableBroker | None
                   ) -> RunResult:
    tag = uuid.uuid4().hex[:8]
    result = RunResult(run=index)
    settings = load_settings(kafka_bootstrap_servers=bootstrap, database_url=url, topic_prefix=f"chaos-{tag}-",
                             database_schema=f"chaos_{tag}", kafka_session_timeout_ms=3000,
                             kafka_heartbeat_interval_ms=500)
    conn = await connect(settings)
    try:
        await migrate(conn, settings.database_schema)
        for sql, args in http_feed.setup_sql():
            await conn.execute(sql, *args)
    finally:
        await conn.close()
    await ensure_topics(settings)
    rng = random.Random(opts.seed * 1000 + index)
    work = build(f"r{tag}", opts.clicks, opts.deals, seed=opts.seed * 1000 + index)
    meta = meta_world(work, opts.fault_rate)
    log_dir = Path(tempfile.mkdtemp(prefix=f"roasloop-chaos-{tag}-"))
    result.log_dir = str(log_dir)
    server = BackgroundServer(create_meta_app(meta))
    meta_url = server.start()
    env = stage_environment(settings, meta_url, meta)
    groups = consuming_groups(settings)
    consumers = Counter(t for names in groups.values() for t in names)
    fleet = Fleet(PROCESSES, opts.replicas, env, log_dir)
    sender = Sender(settings, result)
    try:
        await fleet.start()
        print(f"run {index}: {opts.replicas} replica(s) of {', '.join(PROCESSES)} up (logs in {log_dir}); "
              f"publishing {len(work.clicks)} clicks, {len(work.deal_events)} stage changes", flush=True)
        await sender.producer.start()
        def ingress_ports() -> list[int]:
            return [p.port for p in fleet.procs["ingest"] if p.alive()] or [fleet.procs["ingest"][0].port]

        # webhooks sent while the broker is away, so the ingress answers 503 and the retries must land
        outage = http_feed.OutageWebhooks(ingress_ports, index, random.Random(rng.random()))
        killer = asyncio.create_task(disrupt(fleet, opts.kills, opts.kill_gap, rng, broker,
                                             while_down=outage.while_down))
        faults = asyncio.create_task(inject_faults(meta, opts.fault_rate, random.Random(rng.random())))
        span = opts.kills * sum(opts.kill_gap) / 2 * 0.8
        feeder = asyncio.create_task(http_feed.feed_ingress(
            ingress_ports,
            index, opts.http_clicks or opts.clicks // 20, opts.webhook_deals or max(1, opts.deals // 10), span,
            random.Random(rng.random())))
        started = time.monotonic()
        try:
            await sender.events(work.spend, "spend")
            # spread the workload over the kill schedule, so kills land while every stage is busy
            steps = 10
            clicks, deals = chunks(work.clicks, steps), chunks(work.deal_events, steps)
            injected: dict[str, int] = {}
            for step in range(steps):
                await sender.events(clicks[step], "clicks")
                if step == steps // 2:
                    injected = await sender.poison(opts.poison)
                if step >= 2:  # deals trail their clicks a little, as in life
                    await sender.events(deals[step - 2], "deal stage changes")
                await asyncio.sleep(max(0.0, started + span * (step + 1) / steps - time.monotonic()))
            for rest in deals[steps - 2:]:
                await sender.events(rest, "deal stage changes")
            budgets = {s.adset_id: meta.budget_of(s.adset_id) or START_BUDGET_MINOR for s in work.adsets}
            await sender.events(spend_snapshots(work.run, work.adsets, work.spend[0].occurred_at, 1, budgets),
                                "spend")
        finally:
            await sender.producer.stop()
        result.publish_seconds = time.monotonic() - started
        print(f"  published in {result.publish_seconds:.1f}s; waiting for the remaining kills", flush=True)
        feed = await feeder
        await killer
        feed.deliveries += await outage.finish()
        result.kills.update(fleet.done)
        result.sent["http clicks"] += len(feed.click_ids)
        result.sent["webhook notifications"] += len({e for d in feed.deliveries if d.landed for e in d.event_ids})
        result.drain_seconds = await drain(settings, groups, fleet, opts)
        faults.cancel()
        meta.faults.clear()
        # every fault that fired, during the drain too: the executor's work mostly happens then
        result.meta_faults.update(kind for kind, _, _ in meta.faults.injected)
        await evaluate(settings, work, meta, injected, consumers, groups, result, feed)
    finally:
        await fleet.stop_all()
        server.stop()
    return result


async def evaluate(settings: Settings, work: Workload, meta: MetaState, injected: dict[str, int],
                   consumers: Counter[str], groups: dict[str, list[str]], result: RunResult,
                   feed: http_feed.Feed) -> None:
    tally = result.tally
    conn = await connect(settings)
    guarded, add = checks.guarded, result.results.append
    try:
        conversions = topic_name(settings, "conversions.attributed.v1")
        with meta.lock:
            log = list(meta.change_log)
        finals = {s.adset_id: meta.budget_of(s.adset_id) for s in work.adsets}
        add(await guarded("every click indexed once", lambda: checks.check_clicks(conn, work, tally)))
        add(await guarded("every deal attributed once",
                          lambda: checks.check_attributions(conn, settings, conversions, work, tally)))
        add(await guarded("credited revenue per deal == fault-free", lambda: checks.check_revenue(conn, work, tally)))
        add(await guarded("no budget change applied twice", lambda: checks.check_budget_changes(conn, log, tally)))
        add(await guarded("guardrails held (4/h, 20%/6h)", lambda: checks.check_guardrails(log)))
        requests: dict[str, Any] = {}

        async def request_outcomes() -> checks.Check:
            requests.update(await outcomes.requested(settings, topic_name(settings, "budget.requests.v1")))
            return await outcomes.check_request_outcomes(conn, requests)

        add(await guarded("every budget request: one outcome", request_outcomes))
        add(await guarded("final Meta budget == last non-superseded request",
                          lambda: outcomes.check_final_budgets(conn, requests, finals, START_BUDGET_MINOR)))
        add(await guarded("every 2xx webhook -> its events once downstream", lambda: outcomes.check_webhooks(
            conn, settings, topic_name(settings, "crm.deal-stage.v1"), feed, [ATTRIBUTION_INBOX])))
        add(await guarded("every 503 retried and landed",
                          lambda: outcomes.check_retried(feed, result.kills["broker restart"])))
        add(await guarded("every redirected click indexed once",
                          lambda: outcomes.check_http_clicks(conn, feed, http_feed.TENANT)))
    finally:
        await conn.close()
    try:
        lag = await checks.group_lag(settings, groups)
        behind = {g.removeprefix(settings.topic_prefix): n for g, n in lag.items() if n}
        result.results.append(checks.Check("consumer lag back to zero",
                                           result.drain_seconds is not None and not behind,
                                           f"{len(lag)} groups; behind: {behind or 'none'}"))
    except KafkaError as exc:  # the run's other findings still get their table
        result.results.append(checks.Check("consumer lag back to zero", False, f"lag unreadable: {exc!r}"[:300]))
    try:
        dlq_check, result.dlq = await checks.check_dlq(settings, injected, dict(consumers), settings.topic_prefix)
    except Exception as exc:
        dlq_check = checks.Check("poison -> DLQ only", False, f"could not be checked: {exc!r}"[:300])
    result.results.append(dlq_check)


def table(r: RunResult) -> str:
    rows: list[tuple[str, str]] = [
        ("events sent", ", ".join(f"{k} {v:,}" for k, v in r.sent.items()) + f" (total {sum(r.sent.values()):,})"),
        ("disruptions", f"{sum(r.kills.values())}: " + ", ".join(f"{k} {v}" for k, v in sorted(r.kills.items()))),
        ("Meta faults injected", f"{sum(r.meta_faults.values())}: "
         + ", ".join(f"{k} {v}" for k, v in sorted(r.meta_faults.items()))),
        ("lost effects", str(r.tally.lost)),
        ("duplicated effects", str(r.tally.duplicated)),
        ("DLQ'd", str(r.dlq)),
        ("publish time", f"{r.publish_seconds:.1f}s"),
        ("time to drain", f"{r.drain_seconds:.1f}s after the last kill" if r.drain_seconds is not None
         else "did not drain"),
    ]
    rows += [(f"{'PASS' if c.passed else 'FAIL'}  {c.name}", c.detail) for c in r.results]
    width = max(len(k) for k, _ in rows) + 2
    line = "-" * (width + 60)
    body = "\n".join(f"{k:<{width}}{v}" for k, v in rows)
    return f"{line}\nchaos run {r.run}: {'PASS' if r.passed else 'FAIL'}\n{line}\n{body}\n{line}"


async def main_async(opts: Options) -> int:
    from streams.lab.dev.postgres import LocalPostgres

    failed = False
    with contextlib.ExitStack() as stack:
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        broker = None
        if not bootstrap:
            log = Path(tempfile.mkdtemp(prefix="roasloop-chaos-broker-")) / "broker.log"
            broker = stack.enter_context(RestartableBroker(log))
            bootstrap = broker.bootstrap_servers
        url = os.environ.get("DATABASE_URL") or stack.enter_context(LocalPostgres()).url
        for index in range(1, opts.runs + 1):
            result = await run_once(index, opts, bootstrap, url, broker)
            print(table(result), flush=True)
            failed |= not result.passed
    return 1 if failed else 0


def parse(argv: list[str] | None = None) -> Options:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--clicks", type=int, default=Options.clicks)
    p.add_argument("--deals", type=int, default=Options.deals)
    p.add_argument("--kills", type=int, default=Options.kills,
                   help="disruptions: kill -9, rolling restart, scale up/down (default 10)")
    p.add_argument("--replicas", type=int, default=Options.replicas, help="processes per stage, one group")
    p.add_argument("--http-clicks", type=int, default=0, help="click redirects over HTTP (default clicks/20)")
    p.add_argument("--webhook-deals", type=int, default=0, help="deals sent as HubSpot webhooks (default deals/10)")
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--seed", type=int, default=Options.seed)
    p.add_argument("--fault-rate", type=float, default=Options.fault_rate,
                   help="probability of each Meta fault kind per call (default 0.01)")
    p.add_argument("--poison", type=int, default=Options.poison, help="poison messages per kind per topic")
    p.add_argument("--kill-gap", type=float, nargs=2, default=Options.kill_gap, metavar=("MIN", "MAX"))
    p.add_argument("--drain-timeout", type=float, default=Options.drain_timeout)
    a = p.parse_args(argv)
    return Options(clicks=a.clicks, deals=a.deals, kills=a.kills, replicas=a.replicas, http_clicks=a.http_clicks,
                   webhook_deals=a.webhook_deals, runs=a.runs, seed=a.seed,
                   fault_rate=a.fault_rate, poison=a.poison, kill_gap=tuple(a.kill_gap),
                   drain_timeout=a.drain_timeout)


if __name__ == "__main__":
    sys.exit(asyncio.run(main_async(parse())))
