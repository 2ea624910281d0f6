"""Dead letters and retries: what happens when a handler raises.

FastStream's ``NACK_ON_ERROR`` seeks back to a failed message so it is redelivered - forever,
if nothing takes a poison message out. This middleware sits around every handler and decides:

- undecodable / invalid / :class:`PoisonMessage`: publish the original bytes, key and headers
  to ``<topic>.dlq`` with the origin and the error in headers, then return normally so the
  offset is committed and the consumer goes on;
- transient (:class:`TransientError`, connection and timeout errors): sleep a bounded,
  jittered backoff and re-raise, so the message is redelivered - never dead-lettered for this;
- anything else (a bug, a constraint violation): retried a few times, then dead-lettered, so
  one bad message cannot stall its partition forever.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from aiokafka.errors import KafkaError
from faststream import BaseMiddleware
from faststream.message import StreamMessage
from pydantic import ValidationError

from schemas.codec import InvalidEvent
from schemas.topics import DLQ_SUFFIX
from streams.core import tracing
from streams.core.errors import PoisonMessage, TransientError
from streams.core.metrics import DEAD_LETTERS, HANDLER_SECONDS, MESSAGES_IN, RETRIES

log = structlog.get_logger("roasloop.dlq")

POISON = (InvalidEvent, PoisonMessage, ValidationError, UnicodeDecodeError, json.JSONDecodeError)


def _transient_types() -> tuple[type[BaseException], ...]:
    import asyncpg
    import httpx

    return (
        TransientError,
        asyncpg.PostgresConnectionError,
        asyncpg.InterfaceError,
        asyncpg.exceptions.TooManyConnectionsError,
        asyncpg.exceptions.SerializationError,
        asyncpg.exceptions.DeadlockDetectedError,
        KafkaError,
        httpx.TransportError,
        ConnectionError,
        TimeoutError,
        asyncio.TimeoutError,
    )


TRANSIENT = _transient_types()


@dataclass(frozen=True)
class RetryPolicy:
    base_delay: float = 0.2
    max_delay: float = 30.0
    max_attempts_unknown: int = 5

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return min(self.max_delay, max(0.0, retry_after))
        capped: float = min(self.max_delay, self.base_delay * 2 ** max(0, attempt - 1))
        return capped * random.uniform(0.5, 1.0)


def classify(exc: BaseException) -> str:
    if isinstance(exc, POISON):
        return "poison"
    if isinstance(exc, TRANSIENT):
        return "transient"
    return "unknown"


def _records(msg: StreamMessage[Any]) -> tuple[Any, ...]:
    raw = msg.raw_message
    return raw if isinstance(raw, tuple) else (raw,)


def dead_letter_headers(record: Any, exc: BaseException, attempts: int) -> list[tuple[str, bytes]]:
    origin = [(k, v) for k, v in (record.headers or ()) if not k.startswith("x-dlq-")]
    return [
        *origin,
        ("x-dlq-origin-topic", record.topic.encode()),
        ("x-dlq-origin-partition", str(record.partition).encode()),
        ("x-dlq-origin-offset", str(record.offset).encode()),
        ("x-dlq-origin-timestamp", str(record.timestamp).encode()),
        ("x-dlq-error-type", type(exc).__name__.encode()),
        ("x-dlq-error-message", str(exc)[:4000].encode()),
        ("x-dlq-attempts", str(attempts).encode()),
        ("x-dlq-failed-at", datetime.now(UTC).isoformat().encode()),
    ]


Sender = Callable[[str, bytes | None, bytes | None, list[tuple[str, bytes]]], Awaitable[None]]


@dataclass
class DeadLetters:
    """Shared state of the middleware for one broker: who sends, how we retry, attempt counts."""

    policy: RetryPolicy = field(default_factory=RetryPolicy)
    send: Sender | None = None
    attempts: dict[tuple[str, int, int], int] = field(default_factory=dict)

    def __call__(self, msg: Any, /, *, context: Any) -> DeadLetterMiddleware:
        return DeadLetterMiddleware(msg, context=context, owner=self)

    def bind_broker(self, broker: Any) -> None:
        """Send dead letters through ``broker`` (set once the broker exists)."""

        async def send(topic: str, key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]) -> None:
            await broker.publish(
                value or b"", topic=topic, key=key, headers={k: v.decode(errors="replace") for k, v in headers}
            )

        self.send = send

    async def dead_letter(self, record: Any, exc: BaseException, attempts: int) -> None:
        if self.send is None:
            raise RuntimeError("DeadLetters has no sender: call bind_broker() first")
        reason = "poison" if isinstance(exc, POISON) else "gave_up"
        dlq = record.topic + DLQ_SUFFIX
        await self.send(dlq, record.key, record.value, dead_letter_headers(record, exc, attempts))
        DEAD_LETTERS.labels(topic=record.topic, reason=reason).inc()
        log.warning(
            "dead_lettered", topic=record.topic, partition=record.partition, offset=record.offset,
            dlq=dlq, error_type=type(exc).__name__, error=str(exc)[:500], attempts=attempts,
        )


class DeadLetterMiddleware(BaseMiddleware):
    def __init__(self, msg: Any, /, *, context: Any, owner: DeadLetters) -> None:
        super().__init__(msg, context=context)
        self.owner = owner

    async def consume_scope(self, call_next: Callable[[Any], Awaitable[Any]], msg: StreamMessage[Any]) -> Any:
        records = _records(msg)
        ident = (records[0].topic, records[0].partition, records[0].offset) if records else ("", 0, 0)
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(topic=ident[0], partition=ident[1], offset=ident[2])
        trace = tracing.continue_from(dict(records[0].headers or ()).get("traceparent") if records else None)
        group = getattr(getattr(records[0], "consumer", None), "_group_id", None) or "" if records else ""
        MESSAGES_IN.labels(topic=ident[0], group=group).inc(len(records))
        started = time.perf_counter()
        try:
            result = await call_next(msg)
        except Exception as exc:
            attempt = self.owner.attempts.get(ident, 0) + 1
            kind = classify(exc)
            if kind == "poison" or (kind == "unknown" and attempt >= self.owner.policy.max_attempts_unknown):
                self.owner.attempts.pop(ident, None)
                for record in records:
                    await self.owner.dead_letter(record, exc, attempt)
                return None
            self.owner.attempts[ident] = attempt
            RETRIES.labels(topic=ident[0], kind=kind).inc()
            delay = self.owner.policy.delay(attempt, getattr(exc, "retry_after", None))
            log.warning(
                "handler_failed_will_retry", topic=ident[0], partition=ident[1], offset=ident[2],
                kind=kind, attempt=attempt, delay_s=round(delay, 3), error_type=type(exc).__name__,
                error=str(exc)[:500],
            )
            await asyncio.sleep(delay)
            raise
        finally:
            tracing.reset(trace)
            HANDLER_SECONDS.labels(topic=ident[0], group=group).observe(time.perf_counter() - started)
        self.owner.attempts.pop(ident, None)
        return result


def dead_letters_of(broker: Any) -> DeadLetters:
    """The broker's dead-letter middleware, for batch handlers that dead-letter items one by one.

    A batch handler that raised would send the *whole* batch to the DLQ; instead it decodes each
    record itself and calls ``dead_letters_of(broker).dead_letter(record, exc, 1)`` for the bad ones.
    """
    for middleware in getattr(broker, "middlewares", ()):
        if isinstance(middleware, DeadLetters):
            return middleware
    raise RuntimeError("this broker has no DeadLetters middleware (make_broker(dead_letters=True))")
