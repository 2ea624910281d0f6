"""``roasloop stage-values``: read or set a tenant's pipeline stage values from a terminal."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "stage-values", help="show a tenant's stage values (minor units), or set some with --set stage=minor"
    )
    parser.add_argument("tenant", help="tenant id")
    parser.add_argument("--set", dest="assignments", action="append", default=[], metavar="STAGE=MINOR",
                        help="e.g. --set lead=75000 (repeatable; stages: lead, appointment, won)")
    parser.add_argument("--actor", default="cli", help="recorded in operator_audit when setting")
    parser.set_defaults(func=run_stage_values)


def parse_assignments(items: list[str]) -> dict[str, int]:
    values: dict[str, int] = {}
    for item in items:
        stage, sep, minor = item.partition("=")
        if not sep or not minor.strip().lstrip("-").isdigit():
            raise ValueError(f"--set {item!r}: expected STAGE=MINOR_UNITS, e.g. lead=75000")
        values[stage.strip()] = int(minor)
    return values


def run_stage_values(args: argparse.Namespace) -> int:
    from streams.core.controls.stage_values import get_stage_values, set_stage_values
    from streams.core.db import connect
    from streams.core.settings import load_settings

    settings = load_settings()
    changes = parse_assignments(args.assignments)

    async def run() -> dict[str, Any]:
        conn = await connect(settings)
        try:
            if changes:
                values = await set_stage_values(conn, args.tenant, changes, actor=args.actor,
                                                default_currency=settings.default_currency)
            else:
                values = await get_stage_values(conn, args.tenant, settings.default_currency)
        finally:
            await conn.close()
        return {"tenant_id": args.tenant, "currency": values.currency, "lead": values.lead,
                "appointment": values.appointment, "won": values.won}

    print(json.dumps(asyncio.run(run())))
    return 0
