"""Where alerts land locally: an SMTP sink (aiosmtpd) and a Slack-compatible webhook receiver.

``roasloop dev`` points the alerts stage at both and prints what arrives; the tests read what
arrived. Neither needs an account or the network. The webhook receiver can be told to answer an
error status (``fail_with``), to check retries, and both count what they received per notice id
(``X-Roasloop-Notice-Id``), to check that nothing arrives twice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from streams.lab.dev.ports import free_port
from streams.lab.sandbox.serve import BackgroundServer

NOTICE_HEADER = "x-roasloop-notice-id"


@dataclass
class Received:
    """What a sink got, in arrival order; ``on_message`` is called for each (dev prints them)."""

    items: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    on_message: Callable[[dict[str, Any]], None] | None = None

    def add(self, item: dict[str, Any]) -> None:
        with self.lock:
            self.items.append(item)
        if self.on_message is not None:
            self.on_message(item)

    def snapshot(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.items)


class _Handler:
    def __init__(self, received: Received) -> None:
        self.received = received

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mail = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(mail, EmailMessage)
        body = mail.get_body(preferencelist=("plain",))
        html = mail.get_body(preferencelist=("html",))
        self.received.add({
            "channel": "email", "notice_id": mail.get(NOTICE_HEADER), "subject": str(mail["Subject"]),
            "to": list(envelope.rcpt_tos), "text": body.get_content() if body is not None else "",
            "html": html.get_content() if html is not None else None,
        })
        return "250 Message accepted for delivery"


class SmtpSink:
    """An SMTP server on 127.0.0.1 that accepts every message (no TLS, no auth)."""

    def __init__(self, on_message: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.received = Received(on_message=on_message)
        self.port = free_port()
        self._controller = Controller(_Handler(self.received), hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.received.snapshot()


class WebhookSink:
    """``POST /hook`` records a Slack-style JSON message; ``fail_with`` makes it answer an error instead."""

    def __init__(self, on_message: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.received = Received(on_message=on_message)
        self.fail_with: int | None = None
        self.attempts = 0
        self._server = BackgroundServer(Starlette(routes=[Route("/hook", self._hook, methods=["POST"])]))
        self.url = ""

    async def _hook(self, request: Request) -> Response:
        self.attempts += 1
        if self.fail_with is not None:
            return JSONResponse({"error": "failing on purpose"}, status_code=self.fail_with)
        payload = await request.json()
        self.received.add({"channel": "webhook", "notice_id": request.headers.get(NOTICE_HEADER),
                           "text": str(payload.get("text", "")), "payload": payload})
        return Response("ok")

    def start(self) -> WebhookSink:
        self.url = self._server.start() + "/hook"
        return self

    def stop(self) -> None:
        self._server.stop()

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.received.snapshot()
