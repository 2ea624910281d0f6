"""Memory of the sampler's kept state: 100,000 entities in 10,000 groups, with a month of daily facts.

Builds the groups exactly as the stage keeps them (:class:`~streams.sampler.cache.GroupCache` of
:class:`~streams.sampler.state.GroupState`, filled with ``record_spend`` / ``record_revenue``)
and reports what ``tracemalloc`` saw allocated, in total and per entity-day. Days are what the
state grows with: a group keeps ``retention_cutoff`` worth of them (pruned per batch).

    python bench/sampler_memory.py [--groups 10000] [--entities 10] [--days 30] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streams.sampler.cache import GroupCache
from streams.sampler.state import GroupState, ModelConfig

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def build(groups: int, entities: int, days: int) -> GroupCache:
    config = ModelConfig()
    cache = GroupCache()
    for g in range(groups):
        state = GroupState.for_model("tenant", f"g{g}", config)
        for d in range(days):
            when = T0 + timedelta(days=d)
            for e in range(entities):
                entity = f"g{g}-e{e}"
                state.record_spend(entity, f"g{g}", when.date(), 1000 + d, 20, 1000, 1, 50_000)
                if (d + e) % 3 == 0:
                    state.record_revenue(entity, f"g{g}", 500, when, when - timedelta(hours=3), True)
        cache.groups[("tenant", f"g{g}")] = state
    return cache


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--groups", type=int, default=10_000)
    parser.add_argument("--entities", type=int, default=10, help="per group")
    parser.add_argument("--days", type=int, default=30, help="daily facts per entity")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    tracemalloc.start()
    cache = build(args.groups, args.entities, args.days)
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    entity_days = args.groups * args.entities * args.days
    result = {"benchmark": "sampler_memory", "groups": len(cache.groups), "entities": args.groups * args.entities,
              "days": args.days, "mib": round(current / 2**20, 1), "bytes_per_entity_day": round(current / entity_days)}
    if args.json:
        print(json.dumps(result))
        return
    print(f"{result['entities']:,} entities in {result['groups']:,} groups, {args.days} days each: "
          f"{result['mib']} MiB ({result['bytes_per_entity_day']} bytes per entity-day)")


if __name__ == "__main__":
    main()
