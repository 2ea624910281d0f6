"""The groups this instance owns, kept in memory between batches: the sampler keeps state, not rows.

Rebuilding a group from PostgreSQL for every event made the sampler read its whole history per
event (about 60 events/s). Here a group is read once - the first time it is touched after its
partition was assigned - and then updated in memory with the same
:meth:`~streams.sampler.state.GroupState.record_spend` / ``record_revenue`` that simulation and
replay use, while the same facts are written behind to PostgreSQL in the batch's transaction
(:mod:`.store`), which stays the source of truth.

The memory must never run ahead of what committed: a batch's groups are *pending* from the start
of ``ingest`` until its ``after`` hook runs (after commit). If a batch rolls back, the next batch
finds its groups still pending and drops them, so they are read again from the committed rows. A
revoked partition's groups are dropped too: the next owner reads them from PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from streams.core.db import Conn
from streams.core.partitions import group_partition
from streams.sampler import store
from streams.sampler.state import GroupState, ModelConfig

GroupKey = tuple[str, str]


@dataclass
class GroupCache:
    groups: dict[GroupKey, GroupState] = field(default_factory=dict)
    pending: set[GroupKey] = field(default_factory=set)
    """Groups changed by a batch whose commit has not been confirmed yet."""
    loads: int = 0
    """How many groups were read from PostgreSQL (a test and the bench watch this)."""

    async def get(self, conn: Conn, key: GroupKey, model: ModelConfig, since: date,
                  new_entity_min_budget_minor: int) -> GroupState:
        """The group's state: from memory, or read from PostgreSQL the first time it is touched."""
        state = self.groups.get(key)
        if state is None:
            state = await store.load_group(conn, *key, model, since)
            state.new_entity_min_budget_minor = new_entity_min_budget_minor
            self.groups[key] = state
            self.loads += 1
        return state

    def begin(self, touched: Iterable[GroupKey]) -> None:
        """A batch starts: forget what an uncommitted earlier batch changed, then mark this one's groups."""
        for key in self.pending:
            self.groups.pop(key, None)
        self.pending = set(touched)

    def committed(self) -> None:
        self.pending = set()

    def forget_partitions(self, partitions: set[int]) -> None:
        """Drop the groups of partitions this instance no longer (or newly) owns."""
        for key in [k for k in self.groups if group_partition(*k) in partitions]:
            del self.groups[key]
        self.pending -= {k for k in self.pending if group_partition(*k) in partitions}

    def clear(self) -> None:
        self.groups.clear()
        self.pending.clear()
