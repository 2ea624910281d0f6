"""``roasloop executor ...``: read the audit trail from a terminal, settle stranded intents.

``changes`` and ``guardrails`` read the views of ``sql/0005_executor.sql`` (one JSON object a
line, easy to grep or pipe to jq); ``reconcile`` settles intents a crashed process left
``executing`` by asking Meta, without waiting for the stage to restart.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

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
