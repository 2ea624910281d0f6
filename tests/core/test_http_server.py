"""A client that trickles its request headers is cut off; one that sends them promptly is served."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from streams.core.http_server import HeaderDeadlineProtocol


class QuickDeadline(HeaderDeadlineProtocol):
    header_timeout_s = 0.5


@pytest.fixture
async def port() -> AsyncIterator[int]:
    async def ok(_: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    server = uvicorn.Server(uvicorn.Config(Starlette(routes=[Route("/", ok)]), host="127.0.0.1", port=0,
                                           http=QuickDeadline, log_level="critical", lifespan="off"))
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
        await asyncio.sleep(0.01)
    yield server.servers[0].sockets[0].getsockname()[1]
    server.should_exit = True
    await serving


async def closed_after(port: int, chunks: list[bytes], gap_s: float) -> tuple[float, bytes]:
    """Send ``chunks`` ``gap_s`` apart; return when the server closed the connection and what it sent."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    answer = b""
    for chunk in chunks:
        writer.write(chunk)
        await writer.drain()
        await asyncio.sleep(gap_s)
        if reader.at_eof():
            break
    try:
        answer = await asyncio.wait_for(reader.read(), timeout=5)
    finally:
        writer.close()
    return time.monotonic() - started, answer


async def test_headers_trickled_a_byte_at_a_time_are_cut_off_at_the_deadline(port: int) -> None:
    request = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 40
    elapsed, answer = await closed_after(port, [bytes([b]) for b in request], 0.1)
    assert answer == b"" and elapsed < 3  # closed at ~0.5 s, long before the trickle would end (4 s)


async def test_an_idle_connection_that_never_sends_a_request_is_closed(port: int) -> None:
    elapsed, answer = await closed_after(port, [], 0)
    assert answer == b"" and elapsed < 3


async def test_prompt_requests_on_a_kept_alive_connection_are_served(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for _ in range(3):
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"ok"), timeout=5)
        assert head.startswith(b"HTTP/1.1 200")
        await asyncio.sleep(0.7)  # idle past the header deadline between requests: keep-alive's business
    writer.close()
