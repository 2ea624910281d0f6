"""``roasloop ...``: one entry point for operators, analysts and developers.

Core commands live here; a package that adds commands provides ``streams/<pkg>/cli.py`` with
``register(subparsers)`` and is listed in :data:`COMMAND_MODULES`. A missing optional package is
skipped, so the CLI works while stages land one by one.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from streams.core.errors import ConfigError

COMMAND_MODULES = (
    "streams.lab.sandbox.cli",
    "streams.lab.simulation.cli",
    "streams.lab.priors.cli",
    "streams.lab.backtest.cli",
    "streams.ingest.cli",
    "streams.executor.cli",
    "streams.attribution.cli",
    "streams.revenue.cli",
)


def _cmd_migrate(args: argparse.Namespace) -> int:
    from streams.core.db import connect
    from streams.core.migrate import migrate
    from streams.core.settings import load_settings

    settings = load_settings()

    async def run() -> list[str]:
        conn = await connect(settings)
        try:
            return [m.path.name for m in await migrate(conn, settings.database_schema)]
        finally:
            await conn.close()

    applied = asyncio.run(run())
    print(f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else "; schema up to date"))
    return 0


def _cmd_topics(args: argparse.Namespace) -> int:
    from streams.core.settings import load_settings
    from streams.core.topics_admin import ensure_topics

    wanted = asyncio.run(ensure_topics(load_settings()))
    for name, partitions in wanted.items():
        print(f"{name}\t{partitions}")
    return 0


def _cmd_schemas_export(args: argparse.Namespace) -> int:
    from schemas.export import export_json_schemas

    for path in export_json_schemas(Path(args.directory)):
        print(path)
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from streams.run import run_stages

    return run_stages(args.stages, host=args.host, port=args.port)


def _cmd_dev(args: argparse.Namespace) -> int:
    from streams.lab.dev.runtime import DevOptions, run_dev

    options = DevOptions(
        port=args.port, duration=args.duration, simulate=args.simulate, scenario=args.scenario,
        seed=args.seed, as_json=args.json, seconds_per_day=args.seconds_per_day,
        export=Path(args.export) if args.export else None,
    )
    return run_dev(options)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="roasloop", description="roasloop: moves ad budget toward the ads that fill your sales pipeline."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("migrate", help="apply pending SQL migrations (idempotent, safe to run concurrently)")
    p.set_defaults(func=_cmd_migrate)

    p = sub.add_parser("topics", help="create the catalog's topics and DLQs with their partition counts")
    p.set_defaults(func=_cmd_topics)

    p = sub.add_parser("schemas", help="the wire contract")
    schemas_sub = p.add_subparsers(dest="schemas_command", required=True)
    e = schemas_sub.add_parser("export", help="write one JSON Schema per event into DIR")
    e.add_argument("directory", metavar="DIR")
    e.set_defaults(func=_cmd_schemas_export)

    p = sub.add_parser("run", help="run one or more stages in this process (HTTP: health, metrics, routes)")
    p.add_argument("stages", nargs="+", metavar="STAGE", help="ingest, attribution, revenue, sampler, executor")
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=None)
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("dev", help="the whole pipeline on a local broker and PostgreSQL, with simulated traffic")
    p.add_argument("--port", type=int, default=8000, help="HTTP port of the ingress (default 8000)")
    p.add_argument("--duration", type=float, default=None, help="stop after N seconds and print a summary")
    p.add_argument("--no-simulate", dest="simulate", action="store_false", help="don't run the simulated market")
    p.add_argument("--scenario", default=None, help="market scenario JSON (default: the bundled default)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--seconds-per-day", type=float, default=6.0, help="market time compression")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.add_argument("--export", metavar="FILE.jsonl", default=None,
                   help="on stopping, write the run's spend, revenue and decisions for `roasloop replay --from-file`")
    p.set_defaults(func=_cmd_dev)

    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue
            raise
        register: Callable[[Any], None] = module.register
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except ConfigError as exc:
        print(f"roasloop: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return int(result or 0)


def print_json(payload: Any) -> None:
    print(json.dumps(payload, indent=2, sort_keys=True, default=str))


if __name__ == "__main__":
    raise SystemExit(main())
