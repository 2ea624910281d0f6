"""Small HTTP pieces every endpoint shares: bounded bodies, JSON errors, guarded publishing.

``read_body`` enforces the size limit *while* reading and a deadline on the whole body: a client
that lies in ``Content-Length``, streams chunked gigabytes or trickles a byte a minute is cut off
(413 / 408), never buffered or waited on. ``parse_json`` turns every way a body can fail to be
JSON (bad bytes, bad syntax, nesting deep enough to exhaust the parser's recursion) into one
``ValueError``, so a caller maps all of them to 400. ``publish_or_raise`` publishes a batch
concurrently (in order per key) and waits for the broker's acks with a deadline, so a broker
outage becomes a prompt 503 instead of a request hanging on metadata retries, and a large batch
costs about one round trip, not one per event.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
import structlog
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from schemas.envelope import Envelope
from schemas.topics import topic_for
from streams.core.metrics import HTTP_REQUESTS
from streams.core.publish import Publisher

log = structlog.get_logger("roasloop.ingest")

BODY_TIMEOUT_S = 10.0
"""How long a whole request body may take to arrive (a slow client's problem, not ours)."""


DEPENDENCY_ERRORS: tuple[type[BaseException], ...] = (
    OSError, TimeoutError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError, asyncpg.exceptions.InsufficientResourcesError,
)
"""A database that is down, restarting or out of connections: 503 with ``Retry-After``, never 500."""


class BodyRejected(Exception):
    """The body cannot be read as sent: answer ``status`` with ``str(exc)``."""

    status = 400


class BodyTooLarge(BodyRejected):
    status = 413


class BodyTimeout(BodyRejected):
    status = 408


class PublishFailed(Exception):
    """The broker did not acknowledge in time: the caller answers 503 and the sender retries."""


async def read_body(request: Request, limit: int, timeout_s: float = BODY_TIMEOUT_S) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"body larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise BodyTooLarge(f"body larger than {limit} bytes")
                chunks.append(chunk)
    except TimeoutError:
        raise BodyTimeout(f"body not received within {timeout_s:.0f}s") from None
    except ClientDisconnect:
        raise BodyRejected("client disconnected before the body was complete") from None
    return b"".join(chunks)


def parse_json(body: bytes) -> Any:
    """``json.loads`` whose every failure is a ``ValueError`` (deep nesting included)."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ValueError("body is not JSON") from None


def json_response(route: str, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
                  ) -> JSONResponse:
    HTTP_REQUESTS.labels(route=route, status=str(status)).inc()
    return JSONResponse(body, status_code=status, headers=headers)


def error(route: str, status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return json_response(route, status, {"error": message}, headers)


async def publish_or_raise(publisher: Publisher, events: Sequence[Envelope], timeout_s: float) -> None:
    """Publish every event, each acked by the broker, all within ``timeout_s``; else PublishFailed.

    Events sharing a topic and key go one after another (their order is the partition's order);
    different keys go concurrently, so the producer batches them into a few requests.
    """
    chains: dict[tuple[str, bytes], list[Envelope]] = {}
    for event in events:
        topic = topic_for(event)
        chains.setdefault((topic.name, topic.key(event)), []).append(event)

    async def in_order(chain: list[Envelope]) -> None:
        for event in chain:
            await publisher.publish(event)

    try:
        async with asyncio.timeout(timeout_s):
            if len(chains) == 1:
                await in_order(next(iter(chains.values())))
            else:
                async with asyncio.TaskGroup() as group:
                    for chain in chains.values():
                        group.create_task(in_order(chain))
    except Exception as exc:  # broker down, disconnected, timed out: all mean "not durable"
        cause = exc.exceptions[0] if isinstance(exc, ExceptionGroup) else exc
        log.warning("publish_failed", error_type=type(cause).__name__, events=len(events))
        raise PublishFailed(type(cause).__name__) from None


Endpoint = Callable[[Request], Awaitable[Response]]


def guarded(route: str, endpoint: Endpoint) -> Endpoint:
    """``endpoint`` answering 503 with ``Retry-After`` when the database is out, instead of a 500."""

    async def serve(request: Request) -> Response:
        try:
            return await endpoint(request)
        except DEPENDENCY_ERRORS as exc:
            log.warning("dependency_unavailable", route=route, error_type=type(exc).__name__)
            return error(route, 503, "a dependency is unavailable, retry later", {"Retry-After": "5"})

    return serve


def client_ip(request: Request, trust_forwarded_for: bool) -> str | None:
    if trust_forwarded_for and (forwarded := request.headers.get("x-forwarded-for")):
        return forwarded.split(",")[0].strip()[:100] or None
    return request.client.host if request.client else None
