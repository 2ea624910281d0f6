"""W3C trace context (``traceparent``) carried from the webhook to the Meta call.

No tracing backend is required: the point is that one id follows a deal through every stage -
in Kafka headers between processes, in HTTP headers to external APIs, and in every log line
(``trace_id``). An incoming ``traceparent`` (HTTP request or Kafka record) makes the current
context its child; publishing copies the current context into the record's headers.
"""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar, Token

import structlog

_CURRENT: ContextVar[str | None] = ContextVar("traceparent", default=None)
_FORMAT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


def new_traceparent() -> str:
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def child_of(parent: str | None) -> str:
    """A new span in the parent's trace; a fresh trace if the parent is missing or malformed."""
    match = _FORMAT.match(parent or "")
    if not match or match[1] == "0" * 32:
        return new_traceparent()
    return f"00-{match[1]}-{secrets.token_hex(8)}-{match[3]}"


def trace_id(traceparent: str | None) -> str | None:
    match = _FORMAT.match(traceparent or "")
    return match[1] if match else None


def current() -> str | None:
    return _CURRENT.get()


def continue_from(parent: str | bytes | None) -> Token[str | None]:
    """Enter a child context of ``parent`` (or a new trace) and bind its trace id to logs."""
    if isinstance(parent, bytes):
        parent = parent.decode(errors="replace")
    value = child_of(parent)
    structlog.contextvars.bind_contextvars(trace_id=trace_id(value))
    return _CURRENT.set(value)


def reset(token: Token[str | None]) -> None:
    _CURRENT.reset(token)


def headers() -> dict[str, str]:
    """Headers to attach to an outgoing record or HTTP request."""
    value = _CURRENT.get()
    return {"traceparent": value} if value else {}
