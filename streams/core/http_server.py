"""uvicorn as roasloop runs it: a client gets a deadline for its request headers, not just its body.

uvicorn's h11 protocol waits for request headers forever: a connection that sends part of a
request line and then a byte every few seconds (slowloris) is held open as long as it likes, and
its keep-alive timer is cancelled by every byte it sends. :class:`HeaderDeadlineProtocol` gives
every request's headers ``HEADER_TIMEOUT_S`` from the first byte of the request (or from the
connection's opening) and closes the connection when they have not all arrived; bodies have their
own deadline where they are read (:func:`streams.core.web.read_body`).
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_TIMEOUT_S = 10.0


class HeaderDeadlineProtocol(H11Protocol):
    header_timeout_s = HEADER_TIMEOUT_S

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            if self._header_deadline is None:  # a request has begun: its headers are on the clock
                self._arm()
        else:
            self._disarm()

    def _arm(self) -> None:
        self._disarm()
        self._header_deadline = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()
