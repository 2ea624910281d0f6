"""``roasloop priors rebuild``: the learning cycle, once or on a schedule (``--every``).

Reads ``DATABASE_URL`` and the artifact storage (``GCS_BUCKET_NAME`` or ``ROASLOOP_STORAGE_DIR``)
like the stages; prints one JSON line per tenant (status, version, held-out scores of the build
and of the active version).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import asdict
from typing import Any


def register(subparsers: Any) -> None:
    priors = subparsers.add_parser("priors", help="cold-start priors: the per-tenant learning cycle")
    sub = priors.add_subparsers(dest="priors_command", required=True)
    rebuild = sub.add_parser("rebuild", help="retrain each tenant's CTR/CVR model and winner index on a time "
                             "split; promote a version only if it is not worse than the active one")
    rebuild.add_argument("--tenant", action="append", help="tenant id (repeatable; default: every described tenant)")
    rebuild.add_argument("--every", type=float, default=None, metavar="SECONDS",
                         help="keep running, one cycle every SECONDS (the stack's schedule)")
    rebuild.set_defaults(func=run_rebuild)


def run_rebuild(args: argparse.Namespace) -> int:
    from streams.core.clock import WallClock
    from streams.core.db import create_pool
    from streams.core.settings import load_settings
    from streams.core.storage import open_storage
    from streams.priors.schedule import every, rebuild_all

    if args.every is not None and args.every <= 0:
        print("roasloop priors rebuild: --every must be positive", file=sys.stderr)
        return 2
    settings = load_settings()
    settings.require("database_url")
    storage = open_storage(settings)

    async def run() -> int:
        pool = await create_pool(settings, min_size=1, max_size=2)
        try:
            if args.every is not None:
                await every(pool, storage, WallClock(), args.every)
                return 0
            results = await rebuild_all(pool, storage, WallClock(), args.tenant)
        finally:
            await pool.close()
        for result in results:
            print(json.dumps(asdict(result), sort_keys=True, default=str))
        return 1 if any(r.status == "failed" for r in results) else 0

    return asyncio.run(run())
