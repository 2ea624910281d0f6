"""HubSpot webhook deliveries: the JSON arrays HubSpot posts and how it retries them.

HubSpot batches up to 100 events per request, signs each request (v1 or v2 legacy header plus
v3), waits at most 5 s for an answer and retries on connection failures, timeouts, 429 and 5xx
(up to 10 attempts, with ``attemptNumber`` rising and the signature recomputed); a 4xx other
than 429 is final. The sender's delays are parameters so tests and ``roasloop dev`` can compress
HubSpot's hours of backoff into milliseconds.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from streams.lab.sandbox.hubspot_signing import signature_headers

MAX_BATCH = 100
RETRYABLE_STATUS = frozenset({429}) | frozenset(range(500, 600))


def event_id_for(*parts: object) -> int:
    """A stable numeric eventId (HubSpot's are large integers) from what the event is about."""
    return int.from_bytes(hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=6).digest(), "big")


def deal_stage_event(
    *,
    deal_id: str,
    stage_id: str,
    occurred_at: datetime,
    portal_id: int,
    app_id: int,
    subscription_id: int,
    change_source: str = "CRM",
) -> dict[str, Any]:
    """One ``deal.propertyChange`` event for ``dealstage``, as HubSpot serialises it."""
    return {
        "eventId": event_id_for("deal.propertyChange", portal_id, deal_id, stage_id),
        "subscriptionId": subscription_id,
        "portalId": portal_id,
        "appId": app_id,
        "occurredAt": int(occurred_at.timestamp() * 1000),
        "subscriptionType": "deal.propertyChange",
        "attemptNumber": 0,
        "objectId": int(deal_id),
        "propertyName": "dealstage",
        "propertyValue": stage_id,
        "changeSource": change_source,
        "sourceId": f"userId:{portal_id % 10_000_000}",
    }


def batches(events: Sequence[dict[str, Any]], size: int = MAX_BATCH) -> list[list[dict[str, Any]]]:
    if not 1 <= size <= MAX_BATCH:
        raise ValueError(f"HubSpot sends 1..{MAX_BATCH} events per request")
    return [list(events[i : i + size]) for i in range(0, len(events), size)]


def encode_batch(events: Iterable[dict[str, Any]], attempt: int = 0) -> bytes:
    """HubSpot's compact JSON (no spaces) with ``attemptNumber`` set for this attempt."""
    return json.dumps([{**e, "attemptNumber": attempt} for e in events], separators=(",", ":")).encode()


def signed_request(
    events: Sequence[dict[str, Any]],
    *,
    url: str,
    client_secret: str,
    attempt: int = 0,
    timestamp_ms: int | None = None,
    versions: Iterable[str] = ("v1", "v3"),
) -> tuple[bytes, dict[str, str]]:
    """Body and headers of one delivery attempt, signed for ``url`` (the full public URL)."""
    body = encode_batch(events, attempt)
    ts = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    headers = signature_headers(client_secret, "POST", url, body, ts, versions)
    headers["User-Agent"] = "HubSpot Connect 2.0 (http://dev.hubspot.com/) (namespace: webhooks-nio)"
    return body, headers


@dataclass
class DeliveryResult:
    delivered: bool
    attempts: int
    statuses: list[int | None] = field(default_factory=list)  # None: connection error or timeout


@dataclass
class WebhookSender:
    """Posts batches to ``url`` the way HubSpot does, including its retry rules."""

    url: str
    client_secret: str
    client: httpx.AsyncClient
    versions: tuple[str, ...] = ("v1", "v3")
    max_attempts: int = 10
    timeout_seconds: float = 5.0
    backoff_seconds: float = 0.05  # HubSpot spreads retries over 24 h; tests compress this
    sign_url: str | None = None  # the URL to sign when it differs from where we connect
    clock: Callable[[], datetime] | None = None  # signing time; None: the wall clock
    log: list[DeliveryResult] = field(default_factory=list)

    async def deliver(self, events: Sequence[dict[str, Any]]) -> DeliveryResult:
        result = DeliveryResult(False, 0)
        for attempt in range(self.max_attempts):
            body, headers = signed_request(
                events,
                url=self.sign_url or self.url,
                client_secret=self.client_secret,
                attempt=attempt,
                versions=self.versions,
                timestamp_ms=int(self.clock().timestamp() * 1000) if self.clock else None,
            )
            result.attempts = attempt + 1
            try:
                response = await self.client.post(self.url, content=body, headers=headers, timeout=self.timeout_seconds)
            except httpx.HTTPError:
                result.statuses.append(None)
            else:
                result.statuses.append(response.status_code)
                if response.status_code < 300:
                    result.delivered = True
                    break
                if response.status_code not in RETRYABLE_STATUS:
                    break
            if attempt + 1 < self.max_attempts:
                await asyncio.sleep(self.backoff_seconds * (2**attempt))
        self.log.append(result)
        return result

    async def deliver_all(self, events: Sequence[dict[str, Any]], batch_size: int = MAX_BATCH) -> list[DeliveryResult]:
        return [await self.deliver(b) for b in batches(events, batch_size)]
