"""The one shape of a consuming stage: decode -> claim inbox rows -> apply in one transaction -> publish -> ack.

A stage says *what* a batch of records does; this module owns *how* it becomes durable exactly
once. :meth:`Resources.consume <streams.core.stage.Resources.consume>` subscribes a
:class:`Processor` to one or more topics; for each batch the processor

1. receives the records decoded into their topic's event model (undecodable ones never get here:
   the dead-letter middleware sends them to ``<topic>.dlq``, alone);
2. opens one PostgreSQL transaction and claims every event's inbox row (``consumer``, ``event_id``);
   a redelivered event finds its row and is left out;
3. runs the stage's ``apply`` on the new events, in that transaction; ``apply`` writes state and
   *emits* the events it produces;
4. publishes what was emitted and waits for the broker's acks *before* the transaction commits, so a
   failed publish rolls the state back and the redelivery does everything again, and a republish
   after a failed commit carries the same deterministic ``event_id`` that the next stage's inbox drops;
5. returns, and the subscriber commits the offsets (``AckPolicy.NACK_ON_ERROR``): never before the
   effect is durable.

``Effects`` also serves work that is not a consumed record - a sweeper's expiry, a scheduled
decision - through :meth:`Resources.effects <streams.core.stage.Resources.effects>`, so those paths
keep the same publish-before-commit rule.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from schemas.envelope import Envelope
from streams.core import inbox
from streams.core.db import Conn

E = TypeVar("E", bound=Envelope)
R = TypeVar("R")


@dataclass(frozen=True)
class Consumed(Generic[E]):
    """A decoded record and where it was read (``topic`` is the catalog's name, without the prefix)."""

    event: E
    topic: str
    partition: int
    offset: int
    record: Any = field(default=None, compare=False, repr=False)  # the broker's record, for a dead letter


@dataclass
class Effects:
    """What ``apply`` works with: the connection inside the batch's transaction, the clock's now,
    and the events to publish before that transaction commits."""

    conn: Conn
    now: datetime
    emitted: list[Envelope] = field(default_factory=list)

    def emit(self, event: Envelope) -> None:
        self.emitted.append(event)


Apply = Callable[[Effects, Sequence[Consumed[E]]], Awaitable[R]]


@dataclass(frozen=True)
class Processor(Generic[E, R]):
    """How a stage applies a batch of one subscription's records.

    ``consumer`` names the inbox: every event is claimed in the batch's transaction and applied at
    most once. ``None`` is for effects that are idempotent by themselves (a snapshot that replaces
    the previous one), where an inbox row per event would only cost a write. ``after`` runs once
    the batch is committed and published, with what ``apply`` returned (the sampler decides
    there, outside the ingest transaction).
    """

    consumer: str | None
    apply: Apply[E, R]
    after: Callable[[R], Awaitable[None]] | None = None

    async def fresh(self, fx: Effects, batch: Sequence[Consumed[E]]) -> list[Consumed[E]]:
        """The records whose events this consumer has not applied yet (claimed now), in order."""
        if self.consumer is None:
            return list(batch)
        new = await inbox.claim_many(fx.conn, self.consumer, [c.event.event_id for c in batch])
        fresh: list[Consumed[E]] = []
        for record in batch:
            if record.event.event_id in new:
                new.discard(record.event.event_id)  # the same event twice in one batch: once
                fresh.append(record)
        return fresh
