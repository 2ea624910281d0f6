"""``GET /c/{tenant_id}/{ad_id}?url=...``: record an ad click, then send the visitor on.

The ad links here; we record ``AdClicked`` (a fresh click id, fbclid, UTM parameters, hashed IP
and user agent, referrer) and answer 302 to the landing URL with ``rl_cid`` appended, which the
landing page stores on the CRM contact - the strongest attribution signal there is.

Only hosts on the tenant's allow-list (``tenants.landing_hosts``; ``*.example.com`` allows
subdomains) are followed, otherwise anyone could use us as an open redirect for phishing. If the
broker is down the visitor is still redirected, without ``rl_cid``: stranding a paying click on
an error page costs more than the one click's attribution (it is counted as lost).
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import structlog
from prometheus_client import Counter
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from schemas.events import AdClicked, Utm
from streams.core.hashing import ip_hash, user_agent_hash
from streams.core.metrics import HTTP_REQUESTS, REGISTRY
from streams.core.stage import Resources
from streams.core.web import PublishFailed, client_ip, error, publish_or_raise
from streams.ingest import context
from streams.ingest.ad_catalog import lookup_ad
from streams.ingest.rate_limit import retry_after_header

ROUTE = "/c/{tenant_id}/{ad_id}"
CLICK_ID_PARAM = "rl_cid"
UTM_KEYS = ("source", "medium", "campaign", "content", "term", "id")
log = structlog.get_logger("roasloop.ingest.clicks")

CLICKS_LOST = Counter("roasloop_clicks_lost_total", "Clicks redirected without being recorded",
                      registry=REGISTRY)


def host_allowed(host: str, allowed: list[str]) -> bool:
    host = host.lower().rstrip(".")
    for entry in (a.strip().lower().rstrip(".") for a in allowed):
        if entry.startswith("*.") and host.endswith(entry[1:]) and len(host) > len(entry) - 1:
            return True
        if host == entry:
            return True
    return False


def with_click_id(url: str, click_id: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != CLICK_ID_PARAM]
    query.append((CLICK_ID_PARAM, click_id))
    return urlunsplit(parts._replace(query=urlencode(query)))


def utm_from(params: dict[str, str]) -> Utm:
    return Utm(**{k: params[f"utm_{k}"][:500] for k in UTM_KEYS if params.get(f"utm_{k}")})


def make_handler(res: Resources, context_of: context.ContextOf) -> Any:
    async def click(request: Request) -> Response:
        ctx = context_of()
        tenant_id = request.path_params["tenant_id"]
        ad_id = request.path_params["ad_id"]
        if (wait := ctx.limiter.acquire(f"click:{tenant_id}")) is not None:
            return error(ROUTE, 429, "rate limit", {"Retry-After": retry_after_header(wait)})
        landing = request.query_params.get("url", "")
        parts = urlsplit(landing)
        if parts.scheme not in ("http", "https") or not parts.hostname or len(landing) > 4000:
            return error(ROUTE, 400, "url must be an absolute http(s) URL")
        hosts = await res.pool.fetchval("SELECT landing_hosts FROM tenants WHERE tenant_id = $1", tenant_id)
        if hosts is None:
            return error(ROUTE, 404, "unknown tenant")
        if not host_allowed(parts.hostname, list(hosts)):
            return error(ROUTE, 400, "landing host is not on the tenant's allow-list")
        params = dict(parse_qsl(parts.query))
        params.update({k: v for k, v in request.query_params.items() if k != "url"})
        click_id = uuid.uuid4().hex
        async with res.pool.acquire() as conn:
            adset_id, campaign_id = await lookup_ad(conn, tenant_id, ad_id)
        key = res.settings.hash_key
        try:
            event = AdClicked(
                event_id=f"click-{click_id}", tenant_id=tenant_id, occurred_at=res.clock.now(),
                produced_at=res.clock.now(), click_id=click_id, ad_id=ad_id, adset_id=adset_id,
                campaign_id=campaign_id, fbclid=(params.get("fbclid") or None), utm=utm_from(params),
                ip_hash=ip_hash(key, client_ip(request, ctx.config.trust_forwarded_for)),
                user_agent_hash=user_agent_hash(key, request.headers.get("user-agent")),
                referrer=(request.headers.get("referer") or "")[:2000] or None, landing_url=landing,
            )
        except ValidationError:
            return error(ROUTE, 400, "invalid tenant id, ad id or parameters")
        target = with_click_id(landing, click_id)
        try:
            await publish_or_raise(res.publisher, [event], ctx.config.publish_timeout_seconds)
        except PublishFailed:
            CLICKS_LOST.inc()
            target = landing
        HTTP_REQUESTS.labels(route=ROUTE, status="302").inc()
        return RedirectResponse(target, status_code=302, headers={"Cache-Control": "no-store"})

    return click
