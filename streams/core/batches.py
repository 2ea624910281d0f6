"""When a batch fails: apply its records one per transaction, so one poison record cannot stall the rest.

A batch is applied in one transaction, so one record that can never succeed (a constraint it
breaks, a bug its data triggers) rolls back all of them. Sending the whole batch to the
dead-letter topic would punish its neighbours; retrying it forever would stall the partition.
Instead the batch is replayed record by record, in order, each in its own transaction:

- a record that succeeds is durable (its inbox row is claimed), so a later redelivery skips it;
- a poison record is dead-lettered alone, and the records after it proceed;
- an unknown failure is retried (the whole batch redelivered, the finished records skipped by
  their inbox rows) until the dead-letter policy's attempt limit, then dead-lettered alone;
- a transient failure re-raises at once: the batch is redelivered after a backoff, nothing is
  dead-lettered for it.

Offsets are committed only when this returns, i.e. when every record is durable or dead-lettered.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import structlog

from streams.core.dlq import classify, dead_letters_of
from streams.core.errors import TransientError
from streams.core.process import Consumed, Processor

if TYPE_CHECKING:
    from streams.core.stage import Resources

log = structlog.get_logger("roasloop.batches")


async def one_by_one(res: Resources, processor: Processor[Any, Any], batch: Sequence[Consumed[Any]],
                     cause: BaseException) -> None:
    """Apply ``batch`` one record per transaction after it failed as a whole with ``cause``."""
    log.warning("batch_failed_applying_one_by_one", size=len(batch), error_type=type(cause).__name__,
                error=str(cause)[:500])
    dead_letters = dead_letters_of(res.broker)
    for record in batch:
        try:
            await res._process(processor, [record])
        except Exception as exc:
            kind = classify(exc)
            if kind == "transient" or record.record is None:
                raise
            ident = (record.record.topic, record.partition, record.offset)
            attempt = dead_letters.attempts.get(ident, 0) + 1
            if kind == "poison" or attempt >= dead_letters.policy.max_attempts_unknown:
                dead_letters.attempts.pop(ident, None)
                await dead_letters.dead_letter(record.record, exc, attempt)
                continue
            dead_letters.attempts[ident] = attempt
            raise TransientError(f"{type(exc).__name__} on {ident}: the batch is redelivered") from exc
