"""``roasloop attribution-prune``: delete clicks past retention now, instead of waiting for the loop."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "attribution-prune", help="delete indexed clicks older than each tenant's window plus the margin"
    )
    parser.set_defaults(func=run_prune)


def run_prune(args: argparse.Namespace) -> int:
    from streams.attribution.settings import load_attribution_settings
    from streams.attribution.sweeper import prune_clicks
    from streams.core.clock import WallClock
    from streams.core.db import create_pool
    from streams.core.settings import load_settings

    settings, config = load_settings(), load_attribution_settings()

    async def run() -> int:
        pool = await create_pool(settings, min_size=1, max_size=1)
        try:
            return await prune_clicks(pool, config, WallClock())
        finally:
            await pool.close()

    print(f"pruned {asyncio.run(run())} click(s)")
    return 0
