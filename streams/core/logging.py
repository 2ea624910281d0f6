"""structlog, JSON to stderr, with secrets and personal data scrubbed before anything is written.

Bind ``tenant_id``, ``topic``, ``event_id`` (and ``campaign_id``, ``deal_id``) with
``structlog.contextvars.bound_contextvars`` in handlers, so one deal can be followed through
every stage by grepping one id.

Scrubbing cannot rely on every caller being careful, because the text that leaks is usually not
ours: a dependency's error message that repeats the access token, a traceback that prints a
request, uvicorn's access line with a client IP and a query string full of emails. So:

- every value goes through :mod:`streams.core.redaction`: values under secret-looking keys are
  dropped, and in every string the known secrets (each client registers its own), token pairs,
  bearer tokens, emails and IP addresses are replaced;
- exceptions are rendered to text *before* that, so tracebacks are scrubbed like any string;
- records of the standard ``logging`` module - uvicorn's, httpx's, asyncpg's, whatever handler
  or formatter prints them - are scrubbed where they are made (a log-record factory installed on
  import): message, arguments, and the traceback text the formatter will use.

On import, a structlog that nobody configured yet gets the same chain with its default console
output, so code run outside ``roasloop run`` (tests, scripts) is scrubbed too.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Iterable, MutableMapping
from typing import Any

import structlog

from streams.core.redaction import REDACTED, SECRET_KEYS, register_secret, scrub_text, scrub_value

__all__ = ["configure_logging", "redact", "register_secret", "scrub_text"]

def redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Drop values of secret-looking keys and scrub every other value (see the module doc)."""
    for key, value in list(event_dict.items()):
        event_dict[key] = REDACTED if SECRET_KEYS.search(key) else scrub_value(value)
    return event_dict


def _processors(renderer: Any) -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact,
        renderer,
    ]


_make_record = logging.getLogRecordFactory()


def _scrubbed_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _make_record(*args, **kwargs)
    try:
        if record.args and not _primitive(record.args):
            record.msg, record.args = record.getMessage(), None
        if isinstance(record.msg, str):
            record.msg = scrub_text(record.msg)
        if record.args:
            record.args = scrub_value(record.args)
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = scrub_text("".join(traceback.format_exception(*record.exc_info)).rstrip())
        if record.stack_info:
            record.stack_info = scrub_text(record.stack_info)
    except Exception:  # a record that cannot be rendered keeps only its logger's name
        record.msg, record.args, record.exc_info, record.exc_text = "unprintable log record", None, None, None
    return record


def _primitive(args: Any) -> bool:
    values: Iterable[Any] = args.values() if isinstance(args, dict) else args
    return all(isinstance(v, str | int | float | bool) or v is None for v in values)


def install_record_scrubbing() -> None:
    if logging.getLogRecordFactory() is not _scrubbed_record:
        logging.setLogRecordFactory(_scrubbed_record)


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    renderer: Any = structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=_processors(renderer),
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level]),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    install_record_scrubbing()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")


def install_defaults() -> None:
    """Scrubbing for code that never calls :func:`configure_logging` (tests, scripts): structlog's
    own console output behind the same chain, and scrubbed standard-library records."""
    install_record_scrubbing()
    structlog.configure(processors=_processors(structlog.dev.ConsoleRenderer()), logger_factory=None,
                        wrapper_class=None, cache_logger_on_first_use=False)


if not structlog.is_configured():
    install_defaults()
install_record_scrubbing()
