"""``POST /webhooks/hubspot``: verified, deduplicated, enriched deal-stage changes on the broker.

Order of checks, cheapest refusal first and nothing published before all pass: size (413, enforced
while reading), signature (401), JSON array (400), per-tenant rate (429). Then every element of the
batch has exactly one outcome, counted in the answer: ``rejected`` (unreadable, or a deal id, stage
or time the event schema refuses: reported by index and dead-lettered, never failing its
neighbours, since HubSpot retries a whole batch that got a 5xx for a day), ``ignored`` (another
subscription type), ``unmapped_portal``, ``duplicate`` (delivered before), or ``published``.

Each ``deal.propertyChange`` on ``dealstage`` not yet delivered is enriched through the CRM API and
published; the answer is 2xx only once the broker acked every event and dead letter. The delivery
keys are remembered *after* the ack, written behind (:mod:`streams.ingest.hubspot_deliveries`): a
crash before they are written can only make a retry publish a duplicate (same ``event_id``, dropped
downstream), never lose an event. Broker, database or CRM trouble -> 503 with ``Retry-After``,
which HubSpot retries.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter as Tally
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from prometheus_client import Counter
from starlette.requests import Request
from starlette.responses import Response

from schemas.events import DealStageChanged
from schemas.topics import DEAL_STAGES
from streams.core.dlq import dead_letters_of
from streams.core.errors import TransientError
from streams.core.metrics import REGISTRY
from streams.core.naming import topic_name
from streams.core.web import BodyRejected, PublishFailed, error, json_response, parse_json, publish_or_raise, read_body
from streams.ingest import context
from streams.ingest.hubspot_deliveries import tenants_by_portal
from streams.ingest.hubspot_events import InvalidNotification, Notification, deal_stage_event, enriched, parse_item
from streams.ingest.hubspot_signature import SignatureError, SignedRequest, request_uri, verify
from streams.ingest.rate_limit import retry_after_header
from streams.integrations.hubspot import DealDetails, HubSpotError

ROUTE = "/webhooks/hubspot"
ENRICH_CONCURRENCY = 4
MAX_REPORTED = 100  # rejected items listed in the answer (all are counted and dead-lettered)
log = structlog.get_logger("roasloop.ingest.webhooks")

NOTIFICATIONS = Counter(
    "roasloop_hubspot_notifications_total", "HubSpot webhook notifications by outcome",
    ["subscription_type", "outcome"], registry=REGISTRY,
)


@dataclass(frozen=True)
class Rejected:
    index: int
    error: str
    item: Any


def signed_request(request: Request, body: bytes, public_base_url: str | None) -> SignedRequest:
    scope = request.scope
    raw_path = scope.get("raw_path") or scope["path"].encode()
    return SignedRequest(
        method=request.method,
        uri=request_uri(public_base_url, request.url.scheme, request.headers.get("host", request.url.netloc),
                        raw_path.decode("latin-1"), scope.get("query_string", b"").decode("latin-1")),
        body=body,
        headers={k.lower(): v for k, v in request.headers.items()},
    )


async def enrich(ctx: context.IngestContext, deal_ids: set[str]) -> dict[str, DealDetails]:
    """Deal details per deal id; empty details when no CRM token is configured or the token is bad."""
    if ctx.hubspot is None:
        return dict.fromkeys(deal_ids, DealDetails())
    client = ctx.hubspot
    gate = asyncio.Semaphore(ENRICH_CONCURRENCY)

    async def one(deal_id: str) -> tuple[str, DealDetails]:
        async with gate:
            try:
                return deal_id, await client.deal_details(deal_id)
            except HubSpotError as exc:  # a bad token must not block stage changes: publish unenriched
                log.error("hubspot_enrichment_refused", deal_id=deal_id, error=str(exc))
                return deal_id, DealDetails()

    return dict(await asyncio.gather(*(one(d) for d in sorted(deal_ids))))


async def dead_letter(ctx: context.IngestContext, rejected: list[Rejected]) -> None:
    """Each rejected element, as HubSpot sent it, on the deal-stage topic's DLQ for an operator."""
    if not rejected:
        return
    send = dead_letters_of(ctx.res.broker).send
    if send is None:
        raise PublishFailed("no dead-letter sender")
    topic = topic_name(ctx.res.settings, DEAL_STAGES.dlq)
    failed_at = datetime.now(UTC).isoformat().encode()
    try:
        async with asyncio.TaskGroup() as group:
            for r in rejected:
                group.create_task(_awaited(send(topic, None, json.dumps(r.item, default=str).encode(), [
                    ("x-dlq-origin", f"POST {ROUTE}".encode()), ("x-dlq-batch-index", str(r.index).encode()),
                    ("x-dlq-error-type", b"InvalidNotification"), ("x-dlq-error-message", r.error[:4000].encode()),
                    ("x-dlq-attempts", b"1"), ("x-dlq-failed-at", failed_at)])))
    except Exception as exc:  # not durable: the batch is retried, as for a failed publish
        raise PublishFailed(type(exc).__name__) from None


async def _awaited(awaitable: Awaitable[None]) -> None:
    await awaitable


def make_handler(ctx_of: context.ContextOf) -> Any:
    async def hubspot_webhook(request: Request) -> Response:
        ctx = ctx_of()
        res = ctx.res
        secret = res.settings.hubspot_client_secret
        if secret is None:
            return error(ROUTE, 503, "HUBSPOT_CLIENT_SECRET is not configured", {"Retry-After": "300"})
        try:
            body = await read_body(request, ctx.config.webhook_max_body_bytes, ctx.config.body_timeout_seconds)
        except BodyRejected as exc:
            return error(ROUTE, exc.status, str(exc))
        try:
            verify(signed_request(request, body, res.settings.public_base_url), secret.get_secret_value(),
                   res.clock.now(), max_age_s=ctx.config.signature_max_age_seconds,
                   max_future_s=ctx.config.signature_max_future_seconds)
        except SignatureError as exc:
            return error(ROUTE, 401, f"signature: {exc}")
        try:
            payload = parse_json(body)
        except ValueError:
            return error(ROUTE, 400, "body is not JSON")
        if not isinstance(payload, list):
            return error(ROUTE, 400, "body must be a JSON array of notifications")
        return await _handle_batch(ctx, payload)

    return hubspot_webhook


def _count(tally: Tally[str], note: Notification | None, outcome: str) -> None:
    tally[outcome] += 1
    kind = note.subscription_type[:40] if note is not None else "unknown"
    NOTIFICATIONS.labels(subscription_type=kind, outcome=outcome).inc()


async def _handle_batch(ctx: context.IngestContext, payload: list[Any]) -> Response:
    res = ctx.res
    tally: Tally[str] = Tally()
    rejected: list[Rejected] = []
    notes: list[tuple[int, Notification]] = []
    for index, item in enumerate(payload):
        try:
            note = parse_item(item)
        except InvalidNotification as exc:
            rejected.append(Rejected(index, str(exc), item))
            continue
        if note.is_deal_stage_change:
            notes.append((index, note))
        else:
            _count(tally, note, "ignored")
    tenants = await tenants_by_portal(ctx, {n.portal_id for _, n in notes}) if notes else {}
    for tenant in sorted(set(tenants.values())):
        if (wait := ctx.limiter.acquire(f"hubspot:{tenant}")) is not None:
            return error(ROUTE, 429, "rate limit", {"Retry-After": retry_after_header(wait)})
    now = res.clock.now()
    fresh: dict[str, tuple[Notification, DealStageChanged]] = {}
    keyed: list[tuple[str, Notification, DealStageChanged]] = []
    for index, note in notes:
        if note.portal_id not in tenants:
            log.warning("hubspot_portal_unmapped", portal_id=note.portal_id)
            _count(tally, note, "unmapped_portal")
            continue
        try:
            keyed.append((note.delivery_key(), note, deal_stage_event(note, tenants[note.portal_id], now)))
        except InvalidNotification as exc:
            rejected.append(Rejected(index, str(exc), payload[index]))
    retried = {k for k, note, _ in keyed if note.attempt_number > 0}
    seen = await ctx.deliveries.delivered([k for k, _, _ in keyed], retried) if keyed else set()
    for key, note, event in keyed:
        if key in seen or key in fresh:
            _count(tally, note, "duplicate")
        else:
            fresh[key] = (note, event)
    rejected.sort(key=lambda r: r.index)
    for r in rejected:
        _count(tally, None, "rejected")
        log.warning("hubspot_notification_rejected", index=r.index, error=r.error[:300])
    try:
        details = await enrich(ctx, {e.deal_id for _, e in fresh.values()})
    except TransientError as exc:
        log.warning("hubspot_enrichment_unavailable", error=str(exc))
        return error(ROUTE, 503, "CRM API unavailable, retry later", {"Retry-After": "30"})
    events = [enriched(e, details[e.deal_id]) if ctx.hubspot else e for _, e in fresh.values()]
    timeout_s = ctx.config.publish_timeout_seconds
    try:
        if rejected:
            async with asyncio.timeout(timeout_s), asyncio.TaskGroup() as group:
                group.create_task(publish_or_raise(res.publisher, events, timeout_s))
                group.create_task(dead_letter(ctx, rejected))
        else:  # the common case, without a task group's two tasks
            await publish_or_raise(res.publisher, events, timeout_s)
    except (PublishFailed, ExceptionGroup, TimeoutError):  # from either
        return error(ROUTE, 503, "broker unavailable, retry later", {"Retry-After": "10"})
    ctx.deliveries.remember([(k, tenants[n.portal_id], e.event_id) for k, (n, e) in fresh.items()])
    for note, _ in fresh.values():
        _count(tally, note, "published")
    answer: dict[str, Any] = {"received": len(payload), **dict(+tally), "published": len(events)}
    if rejected:
        answer["errors"] = [{"index": r.index, "error": r.error[:500]} for r in rejected[:MAX_REPORTED]]
    return json_response(ROUTE, 200, answer)
