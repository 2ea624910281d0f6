"""Secrets and personal data out of any text that leaves the process: logs, rows, records, answers.

Whoever holds a secret registers it (:func:`register_secret`: the Meta and HubSpot clients do, for
their tokens, app secret and appsecret_proof), in every form an echo of it takes - as is, stripped,
each whitespace-separated piece (a token configured with a stray newline is echoed in parts), URL-
and JSON-escaped. :func:`scrub_text` then replaces those, ``access_token=...``-style pairs and
bearer tokens with ``[REDACTED]``, and emails and IP addresses with placeholders
(:mod:`streams.core.pii`). :func:`scrub_value` does it through dicts and lists, and drops what sits
under a secret-looking key. The logging chain uses these on every line; a client uses them on what
a dependency sends back before it becomes an exception, a return value, a row or an event.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote, quote_plus

from pydantic import SecretStr

from streams.core import pii

SECRET_KEYS = re.compile(r"(token|secret|password|authorization|appsecret_proof|api_key|cookie)", re.I)
SECRET_IN_TEXT = re.compile(
    r"((?:access_token|appsecret_proof|client_secret|api_key|password|token)=)[^&\s\"']+"
    r"|((?:Bearer|OAuth)\s+)[A-Za-z0-9._~+/\-]+=*",
    re.I,
)
REDACTED = "[REDACTED]"
MIN_SECRET = 8  # shorter values would redact ordinary words
_secrets: set[str] = set()


def register_secret(value: SecretStr | str | None) -> None:
    """Never print ``value``, nor the forms an echo of it takes (stripped, URL- or JSON-escaped)."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if not value:
        return
    forms = {value, value.strip(), quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1]}
    for part in value.split():  # a token with a stray newline is echoed in pieces too
        forms.add(part)
    _secrets.update(f for f in forms if len(f) >= MIN_SECRET)


def scrub_text(text: str) -> str:
    """``text`` without known secrets, token-looking pairs, emails and IP addresses."""
    for secret in sorted((s for s in _secrets if s in text), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = SECRET_IN_TEXT.sub(lambda m: (m.group(1) or m.group(2)) + REDACTED, text)
    return pii.scrub(text)


def scrub_value(value: Any) -> Any:
    """:func:`scrub_text` through dicts, lists and tuples; secret-looking keys lose their values."""
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {k: REDACTED if isinstance(k, str) and SECRET_KEYS.search(k) else scrub_value(v)
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(scrub_value(v) for v in value)
    if isinstance(value, int | float | bool) or value is None:
        return value
    return scrub_text(str(value))  # an object whose repr would be printed: print it scrubbed


