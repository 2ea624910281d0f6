"""``roasloop dev``: the whole pipeline on this machine, on its own broker and PostgreSQL.

The parser lives here, beside the runtime it starts, so the runtime's command line knows nothing of
the embedded stack; :mod:`streams.lab.cli` registers it. Everything heavy (the broker and database
wheels, uvicorn, the stages) is imported only when the command runs, so ``roasloop --help`` works
without them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("dev", help="the whole pipeline on a local broker and PostgreSQL, with simulated traffic")
    p.add_argument("--port", type=int, default=8000, help="HTTP port of the ingress (default 8000)")
    p.add_argument("--duration", type=float, default=None, help="stop after N seconds and print a summary")
    p.add_argument("--no-simulate", dest="simulate", action="store_false", help="don't run the simulated market")
    p.add_argument("--scenario", default=None, help="market scenario JSON (default: the bundled default)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--priors-history", type=int, default=0, metavar="N",
                   help="seed the tenant's history with N past runs of the scenario and run the priors "
                        "cycle (needs a scenario with creatives, e.g. new_ads_creative)")
    p.add_argument("--seconds-per-day", type=float, default=6.0, help="market time compression")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.add_argument("--export", metavar="FILE.jsonl", default=None,
                   help="on stopping, write the run's spend, revenue and decisions for `roasloop replay --from-file`")
    p.add_argument("--fault", dest="faults", action="append", default=[], metavar="KIND@START+LENGTH",
                   help="break something on schedule (wall seconds): meta-throttle@20+30, meta-timeout@20+30, "
                        "stall:GROUP@20+30 (e.g. stall:revenue); alerts arrive at the local sinks")
    p.set_defaults(func=run_dev_command)

    t = subparsers.add_parser("token", help="print an ID token of the dev issuer, for scripts against roasloop dev")
    t.add_argument("--role", required=True, choices=("VIEWER", "EDITOR", "ADMIN"))
    t.add_argument("--tenant", action="append", required=True, metavar="TENANT",
                   help="a tenant the token may touch (repeat for several)")
    t.add_argument("--sub", default="dev-script", help="the token's subject, recorded in the audit trail")
    t.add_argument("--ttl", type=int, default=3600, help="seconds the token is valid (at most 86400)")
    t.set_defaults(func=run_token_command)


def run_dev_command(args: argparse.Namespace) -> int:
    from streams.lab.dev.faults import parse_fault
    from streams.lab.dev.runtime import DevOptions, run_dev

    try:
        faults = tuple(parse_fault(spec) for spec in args.faults)
    except ValueError as exc:
        print(f"roasloop dev: {exc}", file=sys.stderr)
        return 2
    options = DevOptions(
        port=args.port, duration=args.duration, simulate=args.simulate, scenario=args.scenario,
        seed=args.seed, as_json=args.json, seconds_per_day=args.seconds_per_day,
        export=Path(args.export) if args.export else None, faults=faults, priors_history=args.priors_history,
    )
    return run_dev(options)


def run_token_command(args: argparse.Namespace) -> int:
    import sys

    from streams.lab.dev.issuer import DEFAULT_PATH, LocalIssuer

    if not DEFAULT_PATH.exists():
        print(f"roasloop token: no dev issuer in {DEFAULT_PATH.parent}: run `roasloop dev` in this directory first "
              "(it creates the key the dev console trusts)", file=sys.stderr)
        return 2
    if not 0 < args.ttl <= 86_400 or not 0 < len(args.sub) <= 128:
        print("roasloop token: --ttl must be 1..86400 seconds and --sub 1..128 characters", file=sys.stderr)
        return 2
    print(LocalIssuer.load(DEFAULT_PATH).token(args.role, args.tenant, sub=args.sub, ttl_seconds=args.ttl))
    return 0
