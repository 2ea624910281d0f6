"""``POST /webhooks/hubspot``: verified, deduplicated, enriched deal-stage changes on the broker.

Order of checks, cheapest refusal first and nothing published before all pass: size (413, enforced
while reading), signature (401), JSON array (400), per-tenant rate (429). Then each
``deal.propertyChange`` on ``dealstage`` not yet delivered is enriched through the CRM API and
published; the answer is 2xx only once the broker acked every event. The delivery keys are
recorded *after* the ack: a crash in between can only make HubSpot's retry publish a duplicate
(same ``event_id``, dropped downstream), never lose an event. Broker or CRM trouble -> 503, which
HubSpot retries. Other subscription types are acknowledged and counted, not published.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter as Tally
from typing import Any

import structlog
from prometheus_client import Counter
from starlette.requests import Request
from starlette.responses import Response

from schemas.events import DealStageChanged
from streams.core.errors import TransientError
from streams.core.metrics import REGISTRY
from streams.core.stage import Resources
from streams.core.web import BodyTooLarge, PublishFailed, error, json_response, publish_or_raise, read_body
from streams.ingest import context
from streams.ingest.hubspot_events import Notification, deal_stage_event, parse_item
from streams.ingest.hubspot_signature import SignatureError, SignedRequest, request_uri, verify
from streams.ingest.rate_limit import retry_after_header
from streams.integrations.hubspot import DealDetails, HubSpotError

ROUTE = "/webhooks/hubspot"
ENRICH_CONCURRENCY = 4
log = structlog.get_logger("roasloop.ingest.webhooks")

NOTIFICATIONS = Counter(
    "roasloop_hubspot_notifications_total", "HubSpot webhook notifications by outcome",
    ["subscription_type", "outcome"], registry=REGISTRY,
)


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


PORTAL_CACHE_S = 30.0


async def tenants_by_portal(ctx: context.IngestContext, portals: set[int]) -> dict[int, str]:
    """Tenant per portal. Known mappings are cached briefly (one query less per delivery); an
    unmapped portal is never cached, so a mapping added for it applies to the very next delivery."""
    now = time.monotonic()
    cache = ctx.portal_tenants
    found = {p: cache[p][0] for p in portals if p in cache and now - cache[p][1] < PORTAL_CACHE_S}
    missing = [p for p in portals if p not in found]
    if missing:
        rows = await ctx.res.pool.fetch(
            "SELECT portal_id, tenant_id FROM hubspot_portals WHERE portal_id = ANY($1::bigint[])", missing
        )
        for row in rows:
            found[int(row["portal_id"])] = str(row["tenant_id"])
            cache[int(row["portal_id"])] = (str(row["tenant_id"]), now)
    default = ctx.config.hubspot_default_tenant
    return {p: found.get(p) or default for p in portals if found.get(p) or default}  # type: ignore[misc]


async def already_delivered(res: Resources, keys: list[str]) -> set[str]:
    rows = await res.pool.fetch("SELECT delivery_key FROM hubspot_deliveries WHERE delivery_key = ANY($1)", keys)
    return {str(r["delivery_key"]) for r in rows}


async def record_delivered(res: Resources, rows: list[tuple[str, str, str]]) -> None:
    """Remember published deliveries. Without waiting for the WAL flush: losing the last keys in a
    database crash only lets a retry publish a duplicate with the same event_id, which downstream
    inboxes drop - the fsync would cost every delivery for a case already handled."""
    if not rows:
        return
    async with res.pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL synchronous_commit TO off")
        await conn.execute(
            "INSERT INTO hubspot_deliveries (delivery_key, tenant_id, event_id) "
            "SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING",
            [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows],
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


def make_handler(res: Resources, context_of: context.ContextOf) -> Any:
    async def hubspot_webhook(request: Request) -> Response:
        ctx = context_of()
        secret = res.settings.hubspot_client_secret
        if secret is None:
            return error(ROUTE, 503, "HUBSPOT_CLIENT_SECRET is not configured")
        try:
            body = await read_body(request, ctx.config.webhook_max_body_bytes)
        except BodyTooLarge:
            return error(ROUTE, 413, f"body larger than {ctx.config.webhook_max_body_bytes} bytes")
        try:
            verify(signed_request(request, body, res.settings.public_base_url), secret.get_secret_value(),
                   res.clock.now(), max_age_s=ctx.config.signature_max_age_seconds,
                   max_future_s=ctx.config.signature_max_future_seconds)
        except SignatureError as exc:
            return error(ROUTE, 401, f"signature: {exc}")
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return error(ROUTE, 400, "body is not JSON")
        if not isinstance(payload, list):
            return error(ROUTE, 400, "body must be a JSON array of notifications")
        return await _handle_batch(ctx, payload)

    return hubspot_webhook


async def _handle_batch(ctx: context.IngestContext, payload: list[Any]) -> Response:
    res = ctx.res
    tally: Tally[str] = Tally()
    notes: list[Notification] = []
    for item in payload:
        note = parse_item(item)
        if note is None:
            tally["unreadable"] += 1
            NOTIFICATIONS.labels(subscription_type="unknown", outcome="unreadable").inc()
        elif not note.is_deal_stage_change:
            tally["ignored"] += 1
            NOTIFICATIONS.labels(subscription_type=note.subscription_type[:40], outcome="ignored").inc()
        else:
            notes.append(note)
    tenants = await tenants_by_portal(ctx, {n.portal_id for n in notes}) if notes else {}
    for tenant in sorted(set(tenants.values())):
        if (wait := ctx.limiter.acquire(f"hubspot:{tenant}")) is not None:
            return error(ROUTE, 429, "rate limit", {"Retry-After": retry_after_header(wait)})
    unknown = [n for n in notes if n.portal_id not in tenants]
    for note in unknown:
        log.warning("hubspot_portal_unmapped", portal_id=note.portal_id)
    tally["unmapped_portal"] += len(unknown)
    notes = [n for n in notes if n.portal_id in tenants]
    seen = await already_delivered(res, [n.delivery_key() for n in notes]) if notes else set()
    fresh: dict[str, Notification] = {}
    for note in notes:
        key = note.delivery_key()
        if key in seen or key in fresh:
            tally["duplicate"] += 1
            NOTIFICATIONS.labels(subscription_type=note.subscription_type, outcome="duplicate").inc()
        else:
            fresh[key] = note
    try:
        details = await enrich(ctx, {str(n.object_id) for n in fresh.values()})
    except TransientError as exc:
        log.warning("hubspot_enrichment_unavailable", error=str(exc))
        return error(ROUTE, 503, "CRM API unavailable, retry later", {"Retry-After": "30"})
    now = res.clock.now()
    events: list[DealStageChanged] = [
        deal_stage_event(n, tenants[n.portal_id], details[str(n.object_id)], now) for n in fresh.values()
    ]
    try:
        await publish_or_raise(res.publisher, events, ctx.config.publish_timeout_seconds)
    except PublishFailed:
        return error(ROUTE, 503, "broker unavailable, retry later", {"Retry-After": "10"})
    await record_delivered(res, [(k, tenants[n.portal_id], n.event_id_for()) for k, n in fresh.items()])
    for note in fresh.values():
        NOTIFICATIONS.labels(subscription_type=note.subscription_type, outcome="published").inc()
    return json_response(ROUTE, 200, {"received": len(payload), **dict(+tally), "published": len(events)})
