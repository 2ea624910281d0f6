"""Everything roasloop keeps, as one text to search: every row of every table in the test's schema
and every record (key, value, headers) of every topic of the catalog and its dead-letter topic.

The secret-echo and personal-data tests look for a value in it: whatever path a value took, if it
was stored or published anywhere, it is in here.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer

from schemas.topics import CATALOG
from streams.core.broker import client_options
from streams.core.naming import topic_name, unprefixed
from streams.core.settings import Settings
from streams.core.topic_reader import partitions_of, true_end_offsets


async def all_rows(pool: asyncpg.Pool[Any], settings: Settings) -> dict[str, str]:
    """Table -> its rows as text (``row::text``: every column, JSON and arrays included)."""
    tables = [r["table_name"] for r in await pool.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE'",
        settings.database_schema)]
    out = {}
    for table in tables:
        rows = await pool.fetch(f'SELECT t::text AS row FROM "{settings.database_schema}"."{table}" t')
        out[table] = "\n".join(r["row"] for r in rows)
    return out


async def all_records(settings: Settings, wait_s: float = 10.0) -> dict[str, str]:
    """Topic -> its records as text (key, value and headers, decoded leniently), every topic of the
    catalog and its DLQ read by one consumer (one per topic would cost seconds each)."""
    names = [topic_name(settings, n) for t in CATALOG for n in (t.name, t.dlq)]
    consumer = AIOKafkaConsumer(**client_options(settings), enable_auto_commit=False)
    await consumer.start()
    out: dict[str, list[str]] = {unprefixed(settings, n): [] for n in names}
    try:
        tps = await partitions_of(consumer, names)
        consumer.assign(tps)
        ends = await true_end_offsets(consumer, tps)
        await consumer.seek_to_beginning(*tps)
        remaining = {tp for tp in tps if ends[tp] > await consumer.position(tp)}
        deadline = asyncio.get_running_loop().time() + wait_s
        while remaining and asyncio.get_running_loop().time() < deadline:
            for tp, records in (await consumer.getmany(*remaining, timeout_ms=200)).items():
                out[unprefixed(settings, tp.topic)].extend(
                    " ".join([(r.key or b"").decode(errors="replace"), (r.value or b"").decode(errors="replace"),
                              *(f"{k}={v.decode(errors='replace')}" for k, v in (r.headers or ()))])
                    for r in records if r.offset < ends[tp])
                if records and records[-1].offset >= ends[tp] - 1:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    return {name: "\n".join(lines) for name, lines in out.items()}


async def everything_stored(pool: asyncpg.Pool[Any], settings: Settings) -> dict[str, str]:
    return {**{f"table {k}": v for k, v in (await all_rows(pool, settings)).items()},
            **{f"topic {k}": v for k, v in (await all_records(settings)).items()}}


def places_holding(needle: str, texts: dict[str, str]) -> list[str]:
    """Where ``needle`` occurs, as is or JSON-escaped (case-insensitive)."""
    forms = {needle.lower(), needle.lower().replace("/", "\\/"), needle.lower().replace("@", "\\u0040")}
    return sorted(where for where, text in texts.items() if any(f in text.lower() for f in forms))
