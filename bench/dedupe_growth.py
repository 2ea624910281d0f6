"""Per-event cost of the inbox as dedupe state grows: does a stage slow down as the inbox fills?

For each size in ``--sizes`` the inbox is filled (``generate_series``, hashed event ids like real
ones, so inserts land all over the primary key), then batches of 500 fresh events are claimed the
way a stage claims them (:func:`streams.core.inbox.claim_many`, one statement per batch, in a
transaction) along with a redelivered batch that finds its rows. Prints microseconds per event
at each size and ``ratio`` = cost at the smallest size / cost at the largest (1.0: no rise).
The pruning job (:mod:`streams.core.pruning`) is what keeps the real inbox at the dedupe window.

    python bench/dedupe_growth.py [--sizes 0 1000000 5000000] [--batches 40] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.broker_passthrough import bench_settings
from streams.core import inbox
from streams.core.db import connect
from streams.core.settings import Settings

BATCH = 500


async def grow(settings: Settings, start: int, stop: int) -> None:
    conn = await connect(settings)
    try:
        step = 1_000_000
        for lo in range(start, stop, step):
            await conn.execute("INSERT INTO inbox (consumer, event_id) SELECT 'stage', md5(g::text)"
                               " FROM generate_series($1::bigint, $2::bigint) AS g", lo + 1, min(lo + step, stop))
        await conn.execute("ANALYZE inbox")
    finally:
        await conn.close()


async def per_event_us(settings: Settings, batches: int) -> float:
    conn = await connect(settings)
    try:
        ids = [[uuid.uuid4().hex for _ in range(BATCH)] for _ in range(batches)]
        started = time.perf_counter()
        for batch in ids:
            async with conn.transaction():
                assert len(await inbox.claim_many(conn, "stage", batch)) == BATCH
            async with conn.transaction():  # the same batch redelivered: all found, none claimed
                assert not await inbox.claim_many(conn, "stage", batch)
        return (time.perf_counter() - started) / (2 * batches * BATCH) * 1e6
    finally:
        await conn.close()


async def main(sizes: list[int], batches: int, as_json: bool) -> None:
    from streams.lab.dev.runtime import local_infrastructure

    rows: list[tuple[int, float]] = []
    with local_infrastructure() as (bootstrap, url):
        async with bench_settings(bootstrap, url) as settings:
            filled = 0
            for size in sorted(sizes):
                started = time.perf_counter()
                await grow(settings, filled, size)
                filled = size
                cost = await per_event_us(settings, batches)
                rows.append((size, cost))
                if not as_json:
                    print(f"inbox {size:>12,} rows (filled in {time.perf_counter() - started:5.1f}s):"
                          f" {cost:7.1f} us per event", flush=True)
    ratio = rows[0][1] / rows[-1][1]
    if as_json:
        print(json.dumps({"benchmark": "dedupe_growth", "us_per_event": {str(s): round(c, 1) for s, c in rows},
                          "ratio": round(ratio, 3)}))
        return
    print(f"ratio (cost at {rows[0][0]:,} rows / cost at {rows[-1][0]:,} rows): {ratio:.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[0, 1_000_000, 5_000_000])
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.sizes, args.batches, args.json))
