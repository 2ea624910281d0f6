"""``GET /c/{tenant_id}/{ad_id}?url=...``: record an ad click, then send the visitor on.

The ad links here; we record ``AdClicked`` (a fresh click id, fbclid, UTM parameters, hashed IP
and user agent, the landing URL and Referer minimized) and answer 302 to the landing URL with
``rl_cid`` appended, which the landing page stores on the CRM contact - the strongest attribution
signal there is. The rules for URLs - which hosts are followed, what of a URL is kept - are in
:mod:`streams.ingest.click_urls`.

Every request gets a 302 or a 4xx naming what is wrong: a tenant or ad id the event schema refuses
is 404 / 400 before anything is looked up, a parameter with control characters or past its length
is left out of the event rather than stranding the visitor. If the broker is down the visitor is
still redirected, without ``rl_cid``: stranding a paying click on an error page costs more than the
one click's attribution (it is counted as lost). For the same reason a database outage redirects
without the ad's hierarchy when only the ad lookup fails, and is a 503 when the tenant's hosts
cannot be read.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qsl

import structlog
from prometheus_client import Counter
from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from schemas.envelope import EntityId, TenantId
from schemas.events import AdClicked, Utm
from streams.core import pii
from streams.core.hashing import ip_hash, user_agent_hash
from streams.core.metrics import HTTP_REQUESTS, REGISTRY
from streams.core.web import DEPENDENCY_ERRORS, PublishFailed, client_ip, error, publish_or_raise
from streams.ingest import context
from streams.ingest.click_urls import BadUrl, host_allowed, landing, minimized, with_click_id
from streams.ingest.rate_limit import retry_after_header

ROUTE = "/c/{tenant_id}/{ad_id}"
UTM_KEYS = ("source", "medium", "campaign", "content", "term", "id")
MAX_PARAM = 500
log = structlog.get_logger("roasloop.ingest.clicks")
TENANT_ID: TypeAdapter[str] = TypeAdapter(TenantId)
AD_ID: TypeAdapter[str] = TypeAdapter(EntityId)

CLICKS_LOST = Counter("roasloop_clicks_lost_total", "Clicks redirected without being recorded",
                      registry=REGISTRY)


def _valid(adapter: TypeAdapter[str], value: str) -> bool:
    try:
        adapter.validate_python(value)
    except ValidationError:
        return False
    return True


def _clean(value: str | None) -> str | None:
    """A parameter value fit for an event: printable, bounded, no email or IP in it; otherwise absent
    (or ``[redacted]``)."""
    if not value or len(value) > MAX_PARAM or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return None
    return pii.masked(value)


def utm_from(params: dict[str, str]) -> Utm:
    return Utm(**{k: v for k in UTM_KEYS if (v := _clean(params.get(f"utm_{k}")))})


def make_handler(context_of: context.ContextOf) -> Any:
    async def click(request: Request) -> Response:
        ctx = context_of()
        res = ctx.res
        tenant_id, ad_id = request.path_params["tenant_id"], request.path_params["ad_id"]
        if not _valid(TENANT_ID, tenant_id):
            return error(ROUTE, 404, "unknown tenant")
        if not _valid(AD_ID, ad_id):
            return error(ROUTE, 400, "ad_id: letters, digits and . _ - : only, at most 64")
        if (wait := ctx.limiter.acquire(f"click:{tenant_id}")) is not None:
            return error(ROUTE, 429, "rate limit", {"Retry-After": retry_after_header(wait)})
        try:
            parts = landing(request.query_params.get("url", ""))
        except BadUrl as exc:
            return error(ROUTE, 400, str(exc))
        try:
            hosts = await ctx.lookups.landing_hosts(res.pool, tenant_id)
        except DEPENDENCY_ERRORS as exc:
            log.warning("click_lookup_failed", error_type=type(exc).__name__)
            return error(ROUTE, 503, "database unavailable, retry", {"Retry-After": "5"})
        if hosts is None:
            return error(ROUTE, 404, "unknown tenant")
        if not host_allowed(parts.hostname or "", hosts):
            return error(ROUTE, 400, "url: landing host is not on the tenant's allow-list")
        try:
            adset_id, campaign_id = await ctx.lookups.ad(res.pool, tenant_id, ad_id)
        except DEPENDENCY_ERRORS:  # attribution resolves an ad's hierarchy later anyway
            adset_id = campaign_id = None
        params = dict(parse_qsl(parts.query))
        params.update({k: v for k, v in request.query_params.items() if k != "url"})
        click_id = uuid.uuid4().hex
        key = res.settings.hash_key
        allow = ctx.url_patterns
        now = res.clock.now()
        try:
            event = AdClicked(
                event_id=f"click-{click_id}", tenant_id=tenant_id, occurred_at=now, produced_at=now,
                click_id=click_id, ad_id=ad_id, adset_id=adset_id, campaign_id=campaign_id,
                fbclid=_clean(params.get("fbclid")), utm=utm_from(params),
                ip_hash=ip_hash(key, client_ip(request, ctx.config.trust_forwarded_for)),
                user_agent_hash=user_agent_hash(key, request.headers.get("user-agent")),
                referrer=minimized(request.headers.get("referer"), allow),
                landing_url=minimized(parts.geturl(), allow, 4000),
            )
        except ValidationError as exc:  # every field was checked above: a bug, but never the visitor's problem
            log.error("click_event_invalid", error=str(exc)[:300])
            return error(ROUTE, 400, "invalid click parameters")
        target = with_click_id(parts, click_id)
        try:
            await publish_or_raise(res.publisher, [event], ctx.config.publish_timeout_seconds)
        except PublishFailed:
            CLICKS_LOST.inc()
            target = parts.geturl()
        HTTP_REQUESTS.labels(route=ROUTE, status="302").inc()
        return RedirectResponse(target, status_code=302, headers={"Cache-Control": "no-store"})

    return click
