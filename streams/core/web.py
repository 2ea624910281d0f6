"""Small HTTP pieces every ingest endpoint shares: bounded bodies, JSON errors, guarded publishing.

``read_body`` enforces the size limit *while* reading: a client that lies in ``Content-Length`` or
streams chunked gigabytes is cut off at the limit, never buffered. ``publish_or_raise`` waits for
the broker's ack with a deadline, so a broker outage becomes a prompt 503 instead of a request
hanging on metadata retries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse

from schemas.envelope import Envelope
from streams.core.metrics import HTTP_REQUESTS
from streams.core.publish import Publisher

log = structlog.get_logger("roasloop.ingest")


class BodyTooLarge(Exception):
    pass


class PublishFailed(Exception):
    """The broker did not acknowledge in time: the caller answers 503 and the sender retries."""


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"body of {declared} bytes exceeds {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def json_response(route: str, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
                  ) -> JSONResponse:
    HTTP_REQUESTS.labels(route=route, status=str(status)).inc()
    return JSONResponse(body, status_code=status, headers=headers)


def error(route: str, status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return json_response(route, status, {"error": message}, headers)


async def publish_or_raise(publisher: Publisher, events: Sequence[Envelope], timeout_s: float) -> None:
    """Publish in order, each acked by the broker, all within ``timeout_s``; else PublishFailed."""
    try:
        async with asyncio.timeout(timeout_s):
            for event in events:
                await publisher.publish(event)
    except Exception as exc:  # broker down, disconnected, timed out: all mean "not durable"
        log.warning("publish_failed", error_type=type(exc).__name__, events=len(events))
        raise PublishFailed(type(exc).__name__) from exc


def client_ip(request: Request, trust_forwarded_for: bool) -> str | None:
    if trust_forwarded_for and (forwarded := request.headers.get("x-forwarded-for")):
        return forwarded.split(",")[0].strip() or None
    return request.client.host if request.client else None
