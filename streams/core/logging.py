"""structlog, JSON to stderr, with secrets scrubbed before anything is written.

Bind ``tenant_id``, ``topic``, ``event_id`` (and ``campaign_id``, ``deal_id``) with
``structlog.contextvars.bound_contextvars`` in handlers, so one deal can be followed through
every stage by grepping one id.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

SECRET_KEYS = re.compile(r"(token|secret|password|authorization|appsecret_proof|api_key|cookie)", re.I)
SECRET_IN_TEXT = re.compile(
    r"((?:access_token|appsecret_proof|client_secret|api_key|password)=)[^&\s\"']+|(Bearer\s+)[A-Za-z0-9._\-]+",
    re.I,
)


def _scrub_text(text: str) -> str:
    return SECRET_IN_TEXT.sub(lambda m: (m.group(1) or m.group(2)) + "[REDACTED]", text)


def redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Drop values of secret-looking keys and scrub tokens embedded in strings (URLs, headers)."""
    for key, value in list(event_dict.items()):
        if SECRET_KEYS.search(key):
            event_dict[key] = "[REDACTED]"
        elif isinstance(value, str):
            event_dict[key] = _scrub_text(value)
    return event_dict


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    renderer: Any = structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level]),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
