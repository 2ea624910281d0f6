"""Verifying that a webhook request really comes from HubSpot (signature versions v1, v2, v3).

Independent of the sandbox's signing code on purpose: a shared bug in one function would sign
and verify the same wrong thing and every test would pass. All comparisons are constant-time
(:func:`hmac.compare_digest`) so response timing leaks nothing about the expected signature.

- v1: ``sha256(client_secret + body)`` hex, header ``X-HubSpot-Signature`` (+ ``-Version: v1``).
- v2: ``sha256(client_secret + method + uri + body)`` hex, same headers with ``v2``.
- v3: ``base64(hmac_sha256(client_secret, method + uri + body + timestamp))`` in
  ``X-HubSpot-Signature-v3`` with ``X-HubSpot-Request-Timestamp`` (ms). v1/v2 can be replayed
  forever; v3 cannot, so a stale (> 5 min) or implausibly future timestamp is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

V3_HEADER = "x-hubspot-signature-v3"
TIMESTAMP_HEADER = "x-hubspot-request-timestamp"
LEGACY_HEADER = "x-hubspot-signature"
VERSION_HEADER = "x-hubspot-signature-version"

# HubSpot decodes these percent-escapes in the URI before signing v3 (its docs list them).
_V3_DECODED = {
    "%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$",
    "%27": "'", "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";",
}
_V3_ESCAPES = re.compile("|".join(_V3_DECODED), re.IGNORECASE)


class SignatureError(Exception):
    """The request is not provably HubSpot's (missing, wrong or stale signature)."""


def v3_uri(uri: str) -> str:
    """The URI as HubSpot signs it for v3: the listed percent-escapes decoded, nothing else."""
    return _V3_ESCAPES.sub(lambda m: _V3_DECODED[m.group(0).upper()], uri)


def expected_v1(secret: str, body: bytes) -> str:
    return hashlib.sha256(secret.encode() + body).hexdigest()


def expected_v2(secret: str, method: str, uri: str, body: bytes) -> str:
    return hashlib.sha256(secret.encode() + method.upper().encode() + uri.encode() + body).hexdigest()


def expected_v3(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    message = method.upper().encode() + v3_uri(uri).encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def _same(expected: str, provided: str) -> bool:
    return hmac.compare_digest(expected.encode(), provided.strip().encode("utf-8", "replace"))


@dataclass(frozen=True)
class SignedRequest:
    method: str
    uri: str
    """The full URI HubSpot called (scheme, host, path, query), see ``request_uri``."""
    body: bytes
    headers: Mapping[str, str]
    """Header names lower-cased."""


MAX_TIMESTAMP_DIGITS = 15  # milliseconds until the year 33658: more digits cannot be a real timestamp


def check_timestamp(raw: str, now: datetime, max_age_s: float, max_future_s: float) -> None:
    """Refuse a v3 timestamp that is not ASCII milliseconds, too old or too far ahead.

    Checked before the signature, so it must survive anything a forger sends: ``str.isdigit``
    alone lets through Unicode digits ``int`` rejects and 400-digit numbers whose conversion to
    seconds overflows a float.
    """
    if not (raw.isascii() and raw.isdigit() and len(raw) <= MAX_TIMESTAMP_DIGITS):
        raise SignatureError("X-HubSpot-Request-Timestamp is not milliseconds since the epoch")
    age_s = now.timestamp() - int(raw) / 1000.0
    if age_s > max_age_s:
        raise SignatureError(f"signature timestamp is {age_s:.0f}s old (limit {max_age_s:.0f}s)")
    if -age_s > max_future_s:
        raise SignatureError(f"signature timestamp is {-age_s:.0f}s in the future")


def verify(request: SignedRequest, secret: str, now: datetime, *, max_age_s: float = 300,
           max_future_s: float = 60) -> str:
    """Return the signature version that verified; raise :class:`SignatureError` otherwise.

    v3 is preferred when present: HubSpot sends the older headers beside it for compatibility,
    and only v3 protects against replay.
    """
    headers = request.headers
    if signature := headers.get(V3_HEADER):
        timestamp = headers.get(TIMESTAMP_HEADER, "")
        check_timestamp(timestamp, now, max_age_s, max_future_s)
        if not _same(expected_v3(secret, request.method, request.uri, request.body, timestamp), signature):
            raise SignatureError("v3 signature does not match")
        return "v3"
    if signature := headers.get(LEGACY_HEADER):
        version = headers.get(VERSION_HEADER, "v1").strip().lower()
        if version == "v1":
            expected = expected_v1(secret, request.body)
        elif version == "v2":
            expected = expected_v2(secret, request.method, request.uri, request.body)
        else:
            raise SignatureError(f"unknown signature version {version[:10]!r}")
        if not _same(expected, signature):
            raise SignatureError(f"{version} signature does not match")
        return version
    raise SignatureError("no HubSpot signature header")


def request_uri(public_base_url: str | None, scheme: str, host: str, raw_path: str, query: str) -> str:
    """The URI HubSpot signed: behind a proxy our own view of scheme/host is wrong, so a
    configured public base URL (``settings.public_base_url``) replaces them."""
    base = public_base_url.rstrip("/") if public_base_url else f"{scheme}://{host}"
    return base + raw_path + (f"?{query}" if query else "")
