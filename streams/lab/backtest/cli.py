"""``roasloop replay`` and ``roasloop export``: backtests for analysts, from Kafka or a JSONL export."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator, Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streams.lab.backtest.records import ReplayRecord, TimeRange

if TYPE_CHECKING:
    from streams.core.controls.limits import LimitsBook


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time (e.g. 2026-03-01T00:00:00Z)") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no time zone: add Z or +00:00")
    return moment


def _range_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--from", dest="start", type=_moment, required=True, help="ISO time, inclusive")
    p.add_argument("--to", dest="end", type=_moment, required=True, help="ISO time, exclusive")
    p.add_argument("--tenant", help="only this tenant's events")
    p.add_argument("--time-field", choices=("record", "event"), default="record",
                   help="filter on Kafka record timestamps (default) or on the events' occurred_at")
    p.add_argument("--grace-seconds", type=float, default=0.0,
                   help="keep reading a partition this long past --to (record timestamps out of order)")
    p.add_argument("--buffer", type=int, default=500, help="records held per partition (bounds memory)")
    p.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")


def _records(args: argparse.Namespace) -> AsyncIterator[ReplayRecord] | Iterable[ReplayRecord]:
    time_range = TimeRange(args.start, args.end)
    if getattr(args, "from_file", None):
        from streams.lab.backtest.export import read_jsonl

        return read_jsonl(Path(args.from_file), time_range, tenant=args.tenant, time_field=args.time_field)
    from streams.core.settings import load_settings
    from streams.lab.backtest.kafka_source import read_range
    from streams.lab.backtest.progress import Progress

    settings = load_settings()
    settings.require("kafka_bootstrap_servers")
    return read_range(settings, time_range, tenant=args.tenant, time_field=args.time_field, buffer=args.buffer,
                      grace_ms=int(args.grace_seconds * 1000), progress=Progress(enabled=not args.no_progress))


async def _limits_book(args: argparse.Namespace) -> LimitsBook:
    """The guardrail limits to replay under: PostgreSQL's overrides (what production applies) or the settings'.

    ``auto`` reads PostgreSQL when ``DATABASE_URL`` is set, so a backtest of a tenant with tuned limits
    reports the interventions production would make; ``settings`` ignores every override.
    """
    from streams.core.controls.limits import LimitsBook, guardrail_settings
    from streams.core.db import connect
    from streams.core.settings import load_settings

    defaults = guardrail_settings()
    settings = load_settings()
    if args.limits_from == "settings" or (args.limits_from == "auto" and not settings.database_url):
        return LimitsBook(defaults)
    conn = await connect(settings)  # --limits-from postgresql without DATABASE_URL fails here, naming it
    try:
        return await LimitsBook.load(conn, defaults, tenants=[args.tenant] if args.tenant else None)
    finally:
        await conn.close()


def _cmd_replay(args: argparse.Namespace) -> int:
    from streams.lab.backtest.report import agreement, limits_used, warnings
    from streams.lab.backtest.run import Backtest, BacktestOptions, run_backtest

    options = BacktestOptions(
        policies=args.policy or ["thompson"], seed=args.seed, units=args.units, clip=args.clip, n_boot=args.bootstrap,
        horizon=timedelta(hours=args.horizon_hours),
        meta={"from": args.start.isoformat(), "to": args.end.isoformat(), "tenant": args.tenant,
              "source": args.from_file or "kafka", "seed": args.seed, "clip": args.clip},
    )

    async def run() -> Backtest:
        return await run_backtest(_records(args), replace(options, limits=await _limits_book(args)))

    backtest = asyncio.run(run())
    if args.report:
        backtest.write_report(Path(args.report))
        print(f"report written to {args.report}", file=sys.stderr)
    meta = backtest.data["meta"]
    for warning in warnings(meta):
        print(f"warning: {warning}", file=sys.stderr)
    if args.json:
        json.dump(backtest.data, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(f"identical to the logged decisions: {agreement(meta)}")
        print(f"guardrail limits: {limits_used(backtest.data['guardrail_limits'])}")
        for policy in backtest.data["policies"]:
            for e in policy["estimates"]:
                print(f"{policy['policy']:<16} {e['estimator']:<6} {e['value']:8.3f} "
                      f"[{e['ci_low']:.3f}, {e['ci_high']:.3f}]  ESS {e['ess']:.1f}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from streams.lab.backtest.export import write_jsonl

    records = _records(args)
    if not isinstance(records, AsyncIterator):  # pragma: no cover - export always reads Kafka
        raise SystemExit("export reads from Kafka")
    count = asyncio.run(write_jsonl(records, Path(args.out)))
    print(f"{count} records written to {args.out}", file=sys.stderr)
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("replay", help="backtest policies on a time range of spend/revenue/decisions")
    _range_args(p)
    p.add_argument("--policy", action="append", metavar="NAME[@SEED]",
                   help="policy to replay (repeatable): thompson, equal, greedy, proportional, ucb1, "
                        "bernoulli-ts, logged; @SEED fixes the seed instead of each decision's logged one")
    p.add_argument("--from-file", metavar="FILE.jsonl", help="replay a `roasloop export` file instead of Kafka")
    p.add_argument("--report", metavar="FILE.html", help="write the self-contained HTML report")
    p.add_argument("--json", action="store_true", help="print every number as JSON on stdout")
    p.add_argument("--seed", type=int, default=0, help="seed of the evaluation's unit draws and bootstrap")
    p.add_argument("--units", type=int, default=16, help="budget units sampled per logged decision")
    p.add_argument("--clip", type=float, default=None, help="clip importance weights at this value")
    p.add_argument("--bootstrap", type=int, default=300, help="bootstrap resamples for the intervals")
    p.add_argument("--horizon-hours", type=float, default=24.0,
                   help="evaluation window of a group's last decision (others end at the next decision)")
    p.add_argument("--limits-from", choices=("auto", "postgresql", "settings"), default="auto",
                   help="guardrail limits: 'postgresql' = ROASLOOP_EXECUTOR_* settings plus every tenant, campaign "
                        "and entity override stored there now (what the executor applies), 'settings' = the "
                        "settings alone, 'auto' (default) = postgresql when DATABASE_URL is set")
    p.set_defaults(func=_cmd_replay)

    e = subparsers.add_parser("export", help="write a time range of spend/revenue/decisions as JSONL")
    _range_args(e)
    e.add_argument("--out", required=True, metavar="FILE.jsonl")
    e.set_defaults(func=_cmd_export)
