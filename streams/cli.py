"""``roasloop ...``: one entry point for operators, analysts and developers.

Core commands live here; a runtime package that adds commands provides ``streams/<pkg>/cli.py``
with ``register(subparsers)`` and is listed in :data:`COMMAND_MODULES`. Those ship in every image,
so a missing one is a broken install and fails loudly. The lab's commands (``dev``, ``simulate``,
``replay`` ...) come from :data:`LAB_COMMANDS`, registered only where the lab is installed: the
runtime image leaves ``streams/lab`` out, and its ``roasloop`` has the operator commands alone.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from streams.core.errors import ConfigError

COMMAND_MODULES = (
    "streams.ingest.cli",
    "streams.executor.cli",
    "streams.attribution.cli",
    "streams.revenue.cli",
    "streams.alerts.cli",
    "streams.launcher.cli",
    "streams.priors.cli",
)
LAB_COMMANDS = "streams.lab.cli"
LAB_ABSENT = ("analysts' and developers' commands (roasloop dev, simulate, replay, export, train-ctr) "
              "come with the lab: pip install 'roasloop[lab]', or use the lab image")


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


def _cmd_schemas_asyncapi(args: argparse.Namespace) -> int:
    import json

    from streams.core.asyncapi import asyncapi_document
    from streams.stages import all_stages

    path = Path(args.path)
    path.write_text(json.dumps(asyncapi_document(all_stages()), indent=2) + "\n")
    print(path)
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from streams.run import run_stages

    return run_stages(args.stages, host=args.host, port=args.port)


def _register(module_name: str, sub: Any) -> None:
    register: Callable[[Any], None] = importlib.import_module(module_name).register
    register(sub)


def _register_lab(sub: Any) -> bool:
    """Register the lab's commands; False when this install has no lab (the runtime image)."""
    try:
        _register(LAB_COMMANDS, sub)
    except ModuleNotFoundError as exc:
        if exc.name != "streams.lab":  # the lab is there but broken: say so, don't hide it
            raise
        return False
    return True


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
    a = schemas_sub.add_parser("asyncapi", help="write the AsyncAPI document of every stage's channels and messages")
    a.add_argument("path", metavar="PATH", nargs="?", default="docs/asyncapi.json")
    a.set_defaults(func=_cmd_schemas_asyncapi)

    p = sub.add_parser("run", help="run one or more stages in this process (HTTP: health, metrics, routes)")
    p.add_argument("stages", nargs="+", metavar="STAGE", help="ingest, attribution, revenue, sampler, executor")
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=None)
    p.set_defaults(func=_cmd_run)

    for module_name in COMMAND_MODULES:
        _register(module_name, sub)
    if not _register_lab(sub):
        parser.epilog = LAB_ABSENT
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


if __name__ == "__main__":
    raise SystemExit(main())
