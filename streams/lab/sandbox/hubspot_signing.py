"""HubSpot request signatures v1, v2 and v3, computed exactly as HubSpot computes them.

- v1: ``sha256_hex(client_secret + body)`` (CRM object webhooks, header ``X-HubSpot-Signature``
  with ``X-HubSpot-Signature-Version: v1``);
- v2: ``sha256_hex(client_secret + method + uri + body)``;
- v3: ``base64(hmac_sha256(client_secret, method + uri + body + timestamp_ms))`` in
  ``X-HubSpot-Signature-v3`` with ``X-HubSpot-Request-Timestamp``; before signing, the URI has
  the URL-encoded characters in HubSpot's table decoded (``%3A`` -> ``:``, ``%2F`` -> ``/``, ...).

``uri`` is the full URL HubSpot called (scheme, host, path and query). Verifiers must rebuild
it from the public base URL, not from what a proxy forwarded. The ingest tests sign with these
functions, and they are checked against the official ``hubspot-api-client`` in tests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable

# HubSpot's v3 table: only these escapes are decoded before signing (both hex cases).
_V3_DECODED: dict[str, str] = {
    "3A": ":", "2F": "/", "3F": "?", "40": "@", "21": "!", "24": "$",
    "27": "'", "28": "(", "29": ")", "2A": "*", "2C": ",", "3B": ";",
}  # fmt: skip
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")


def _text(body: str | bytes) -> str:
    return body.decode("utf-8") if isinstance(body, bytes) else body


def decode_uri_v3(uri: str) -> str:
    """Decode the escapes HubSpot decodes before computing a v3 signature; leave the rest alone."""
    return _ESCAPE.sub(lambda m: _V3_DECODED.get(m.group(1).upper(), m.group(0)), uri)


def sign_v1(client_secret: str, body: str | bytes) -> str:
    return hashlib.sha256(f"{client_secret}{_text(body)}".encode()).hexdigest()


def sign_v2(client_secret: str, method: str, uri: str, body: str | bytes) -> str:
    return hashlib.sha256(f"{client_secret}{method}{uri}{_text(body)}".encode()).hexdigest()


def sign_v3(client_secret: str, method: str, uri: str, body: str | bytes, timestamp_ms: int | str) -> str:
    message = f"{method}{decode_uri_v3(uri)}{_text(body)}{timestamp_ms}"
    digest = hmac.new(client_secret.encode(), message.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def signature_headers(
    client_secret: str,
    method: str,
    uri: str,
    body: str | bytes,
    timestamp_ms: int,
    versions: Iterable[str] = ("v1", "v3"),
) -> dict[str, str]:
    """The headers HubSpot sends with a request: ``v1`` or ``v2`` (legacy pair) and/or ``v3``."""
    versions = tuple(versions)
    if "v1" in versions and "v2" in versions:
        raise ValueError("HubSpot sends one legacy signature: v1 or v2, not both")
    headers = {"Content-Type": "application/json"}
    if "v1" in versions:
        headers["X-HubSpot-Signature"] = sign_v1(client_secret, body)
        headers["X-HubSpot-Signature-Version"] = "v1"
    if "v2" in versions:
        headers["X-HubSpot-Signature"] = sign_v2(client_secret, method, uri, body)
        headers["X-HubSpot-Signature-Version"] = "v2"
    if "v3" in versions:
        headers["X-HubSpot-Signature-v3"] = sign_v3(client_secret, method, uri, body, timestamp_ms)
        headers["X-HubSpot-Request-Timestamp"] = str(timestamp_ms)
    return headers
