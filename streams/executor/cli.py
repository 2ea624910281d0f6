"""``roasloop executor ...``: read the audit trail from a terminal, settle stranded intents, set limits.

``changes`` and ``guardrails`` read the views of ``sql/0005_executor.sql`` (one JSON object a
line, easy to grep or pipe to jq); ``reconcile`` settles intents a crashed process left
``executing`` by asking Meta, without waiting for the stage to restart. ``limits show`` prints the
guardrail limits in force for a tenant, campaign or entity and which layer set each; ``limits
set`` changes a tenant's or campaign's override or an entity's floor and cap - the one place to
"make the velocity window 24 h for one campaign", which the executor and ``roasloop replay`` follow.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from streams.core.controls.limits import OVERRIDABLE

BOUND_OPTIONS = {"floor": "floor_minor", "cap": "cap_minor"}
"""``--floor``/``--cap``: an entity's bounds. Every overridable limit is an option too (``--change-window-hours``)."""

VIEWS = {"changes": "executor_recent_changes", "guardrails": "executor_guardrail_failures",
         "activity": "executor_campaign_activity"}


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser("executor", help="the executor's audit trail")
    sub = parser.add_subparsers(dest="executor_command", required=True)
    for name, view in VIEWS.items():
        p = sub.add_parser(name, help=f"rows of {view}, newest first")
        p.add_argument("--tenant", default=None)
        p.add_argument("--campaign", default=None)
        p.add_argument("--limit", type=int, default=50)
        p.set_defaults(func=run_view, view=view)
    p = sub.add_parser("reconcile", help="settle changes left 'executing' against Meta's current budgets")
    p.set_defaults(func=run_reconcile)
    _register_limits(sub)


def view_query(view: str, tenant: str | None, campaign: str | None, limit: int) -> tuple[str, list[Any]]:
    """SQL for one of :data:`VIEWS` with optional filters (values as parameters, never spliced)."""
    if view not in VIEWS.values():
        raise ValueError(f"unknown view {view!r}")
    where: list[str] = []
    params: list[Any] = []
    for column, value in (("tenant_id", tenant), ("campaign_id", campaign)):
        if value is not None:
            params.append(value)
            where.append(f"{column} = ${len(params)}")
    params.append(limit)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    return f"SELECT * FROM {view}{clause} LIMIT ${len(params)}", params


def run_view(args: argparse.Namespace) -> int:
    from streams.core.db import connect
    from streams.core.settings import load_settings

    async def run() -> list[dict[str, Any]]:
        conn = await connect(load_settings())
        try:
            sql, params = view_query(args.view, args.tenant, args.campaign, args.limit)
            return [dict(r) for r in await conn.fetch(sql, *params)]
        finally:
            await conn.close()

    for row in asyncio.run(run()):
        print(json.dumps(row, default=str))
    return 0


def run_reconcile(args: argparse.Namespace) -> int:
    from streams.core.db import create_pool
    from streams.core.settings import load_settings
    from streams.executor.app import meta_from_settings
    from streams.executor.executor import Executor
    from streams.executor.settings import load_executor_settings

    async def run() -> int:
        from streams.core.broker import make_broker
        from streams.core.stage import Resources

        settings = load_settings()
        res = Resources(settings=settings, broker=make_broker(settings, client_id="roasloop-executor-cli"))
        exec_settings = load_executor_settings()
        meta = meta_from_settings(res, exec_settings)
        if meta is None:
            print("no META_ACCESS_TOKEN: nothing can be reconciled against Meta")
            return 2
        pool = await create_pool(settings)
        await res.broker.connect()
        try:
            executor = Executor(pool, res.clock, exec_settings, meta, res.publisher.publish)
            return await executor.reconcile()
        finally:
            await res.broker.stop()
            await pool.close()

    count = asyncio.run(run())
    print(f"reconciled {count} change(s)")
    return 0


def _register_limits(sub: Any) -> None:
    limits = sub.add_parser("limits", help="show or set the guardrail limits of a tenant, campaign or entity")
    actions = limits.add_subparsers(dest="limits_command", required=True)
    show = actions.add_parser("show", help="the limits in force and which layer (settings, tenant, campaign, "
                                           "entity) set each; settings as this shell's ROASLOOP_EXECUTOR_* say")
    change = actions.add_parser(
        "set", help="override limits for a tenant (no --campaign) or one campaign, or an entity's --floor/--cap",
        description="Values are checked against the settings' bounds before anything is written; every change "
                    "is recorded in operator_audit. Example: roasloop executor limits set --tenant acme "
                    "--campaign c1 --change-window-hours 24")
    for p in (show, change):
        p.add_argument("--tenant", required=True)
        p.add_argument("--campaign", default="", help="a campaign id (a request's campaign_id); none: tenant-wide")
        p.add_argument("--entity", default="", help="an ad set (or campaign, under campaign budgets) id")
        p.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    for name in OVERRIDABLE:
        change.add_argument("--" + name.replace("_", "-"), dest=name, metavar="VALUE",
                            help=f"overrides ROASLOOP_EXECUTOR_{name.upper()}")
    for option, name in BOUND_OPTIONS.items():
        change.add_argument(f"--{option}", dest=name, metavar="MINOR", help=f"the entity's {option} (minor units)")
    change.add_argument("--clear", action="append", default=[], metavar="NAME",
                        help="give a limit back to the layer beneath, e.g. --clear change-window-hours (repeatable)")
    change.add_argument("--expected-version", type=int, default=None,
                        help="refuse if the row is no longer at this version (as `show` printed it)")
    change.add_argument("--actor", default="cli", help="recorded in operator_audit")
    show.set_defaults(func=run_limits)
    change.set_defaults(func=run_limits)


def limit_changes(args: argparse.Namespace) -> tuple[str, dict[str, object]]:
    """Which row ``limits set`` writes (``override`` or ``bounds``) and its changes; ValueError if unclear."""
    names = {**{n: n for n in OVERRIDABLE}, **BOUND_OPTIONS, **{v: v for v in BOUND_OPTIONS.values()}}
    changes: dict[str, object] = {n: getattr(args, n) for n in (*OVERRIDABLE, *BOUND_OPTIONS.values())
                                  if getattr(args, n) is not None}
    for item in args.clear:
        name = names.get(item.replace("-", "_"))
        if name is None:
            raise ValueError(f"--clear {item}: not a limit; limits are {', '.join(names)}")
        changes[name] = None
    bounds = {n for n in changes if n in BOUND_OPTIONS.values()}
    if bounds and len(bounds) < len(changes):
        raise ValueError("--floor/--cap set an entity's bounds, the other options a tenant's or campaign's "
                         "override: one at a time")
    if bounds and (not args.entity or args.campaign):
        raise ValueError("--floor/--cap need --entity (and hold for it in every campaign: no --campaign)")
    if not bounds and args.entity:
        raise ValueError("--entity takes --floor/--cap; other limits are set per tenant or --campaign")
    return ("bounds" if bounds else "override"), changes


def run_limits(args: argparse.Namespace) -> int:
    from streams.core.controls.limit_overrides import save_entity_bounds, save_override
    from streams.core.controls.limits import guardrail_settings, load_layers
    from streams.core.controls.versioned import StaleVersion
    from streams.core.db import connect
    from streams.core.settings import load_settings

    async def run() -> dict[str, Any]:
        conn = await connect(load_settings())
        try:
            if args.limits_command == "set":
                row, changes = limit_changes(args)
                if row == "bounds":
                    await save_entity_bounds(conn, args.tenant, args.entity, changes, args.actor, args.expected_version)
                else:
                    await save_override(conn, args.tenant, args.campaign, changes, args.actor, args.expected_version)
            layers = await load_layers(conn, args.tenant, args.campaign, args.entity)
        finally:
            await conn.close()
        return {"tenant_id": args.tenant, "campaign_id": args.campaign, "entity_id": args.entity,
                "limits": layers.limits(guardrail_settings()).as_dict(), "set_by": layers.sources(),
                "versions": dict(layers.versions)}

    try:
        shown = asyncio.run(run())
    except (ValueError, StaleVersion) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(shown))
        return 0
    for name, value in shown["limits"].items():
        print(f"{name:<32}{'-' if value is None else value!s:<12}{shown['set_by'][name]}")
    versions = ", ".join(f"{layer} v{n}" for layer, n in shown["versions"].items()) or "none stored"
    print(f"versions: {versions}")
    return 0
