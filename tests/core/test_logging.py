"""Log lines carry no secret and no raw email or IP, whoever logs them and however (tracebacks too)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from streams.core.logging import configure_logging, install_defaults, register_secret
from streams.core.redaction import scrub_value

TOKEN = "EAABlogtest0123456789ZD"


@pytest.fixture
def stderr(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    out = io.StringIO()
    monkeypatch.setattr("sys.stderr", out)
    loggers = [logging.getLogger(), logging.getLogger("uvicorn.error"), logging.getLogger("uvicorn.access")]
    before = {id(lg): (list(lg.handlers), lg.level) for lg in loggers}
    configure_logging("INFO", "json")
    for lg in loggers[1:]:  # uvicorn's own handlers, as uvicorn configures them: not propagating to root
        lg.addHandler(logging.StreamHandler(out))
        lg.setLevel(logging.INFO)  # whatever level an earlier uvicorn in this process left
    yield out
    for lg in loggers:
        for handler in [h for h in lg.handlers if h not in before[id(lg)][0]]:
            lg.removeHandler(handler)
        lg.setLevel(before[id(lg)][1])
    install_defaults()


def test_structlog_lines_scrub_known_secrets_pairs_emails_and_ips(stderr: io.StringIO) -> None:
    register_secret(TOKEN + "\n")
    structlog.get_logger("t").warning("meta_failed", error=f"Malformed access token {TOKEN}\n for buyer@example.com",
                                      detail={"url": "https://x.test/?access_token=abc123456&ip=203.0.113.9"},
                                      authorization="Bearer xyz")
    line = json.loads(stderr.getvalue().splitlines()[-1])
    assert line["error"] == "Malformed access token [REDACTED] for [email]"
    assert line["detail"]["url"] == "https://x.test/?access_token=[REDACTED]&ip=[ip]"
    assert line["authorization"] == "[REDACTED]"


def test_tracebacks_of_structlog_and_of_third_party_loggers_are_scrubbed(stderr: io.StringIO) -> None:
    register_secret(TOKEN)
    try:
        raise ValueError(f"request from 198.51.100.23 by buyer@example.com with {TOKEN}")
    except ValueError:
        structlog.get_logger("t").exception("handler_crashed")
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    logging.getLogger("uvicorn.access").warning('%s - "%s %s HTTP/%s" %d', "203.0.113.7:5151", "GET",
                                                "/c/acme/ad7?url=https://s.test/?email=buyer%40example.com", "1.1", 302)
    text = stderr.getvalue()
    assert "ValueError: request from [ip] by [email] with [REDACTED]" in text
    assert text.count("ValueError") >= 2 and '"GET /c/acme/ad7?url=https://s.test/?email=[email]' in text
    for raw in ("198.51.100.23", "buyer@example.com", "buyer%40example.com", TOKEN, "203.0.113.7"):
        assert raw not in text


def test_nested_values_under_secret_keys_are_dropped_and_loopback_is_kept() -> None:
    assert scrub_value({"a": [{"client_secret": "s"}, "127.0.0.1:9092", "10.1.2.3"]}) == {
        "a": [{"client_secret": "[REDACTED]"}, "127.0.0.1:9092", "[ip]"]}
