"""``POST /v1/clicks``: click batches from producers (a site's own tracker, a tag manager).

Authenticated by a per-tenant API key (``X-Api-Key`` or ``Authorization: Bearer``), so a key can
only ever write clicks for its own tenant. One bad item must not cost the producer the whole batch:
each item is validated on its own, errors are reported by index, valid items are published (207
when some failed). Raw IPs, user agents and emails are accepted and hashed here; they never
reach a topic, and landing URLs and referrers are minimized as the redirect's are
(:func:`streams.ingest.click_urls.minimized`). Text with control characters is refused per item:
a NUL would pass the broker and fail every PostgreSQL write downstream. Give each click a
``click_id`` and a retried batch republishes the same event ids.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator
from starlette.requests import Request
from starlette.responses import Response

from schemas.codec import describe
from schemas.envelope import EntityId, EventId
from schemas.events import AdClicked, Utm
from streams.core import pii
from streams.core.hashing import email_hash, ip_hash, user_agent_hash
from streams.core.stage import Resources
from streams.core.web import BodyRejected, PublishFailed, error, json_response, parse_json, publish_or_raise, read_body
from streams.ingest import api_keys, context
from streams.ingest.click_urls import minimized
from streams.ingest.rate_limit import retry_after_header

ROUTE = "/v1/clicks"


class ClickIn(BaseModel):
    """One click as a producer sends it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    click_id: EntityId | None = None
    event_id: EventId | None = None
    ad_id: EntityId
    adset_id: EntityId | None = None
    campaign_id: EntityId | None = None
    occurred_at: AwareDatetime
    fbclid: str | None = Field(default=None, max_length=500)
    utm: Utm = Field(default_factory=Utm)
    ip: str | None = Field(default=None, max_length=100, description="Raw; hashed on arrival")
    user_agent: str | None = Field(default=None, max_length=2000, description="Raw; hashed on arrival")
    email: str | None = Field(default=None, max_length=320, description="Raw; normalized and hashed")
    device_id: str | None = Field(default=None, max_length=200)
    referrer: str | None = Field(default=None, max_length=2000)
    landing_url: str | None = Field(default=None, max_length=4000)

    @model_validator(mode="after")
    def _printable(self) -> ClickIn:
        texts = {**self.model_dump(exclude={"utm", "occurred_at"}), **{f"utm.{k}": v for k, v in self.utm}}
        for name, value in texts.items():
            if isinstance(value, str) and any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
                raise ValueError(f"{name}: control characters are not allowed")
        return self


def to_event(item: ClickIn, tenant_id: str, res: Resources, url_patterns: tuple[str, ...]) -> AdClicked:
    click_id = item.click_id or uuid.uuid4().hex
    key = res.settings.hash_key
    return AdClicked(
        event_id=item.event_id or f"click-{tenant_id}-{click_id}", tenant_id=tenant_id,
        occurred_at=item.occurred_at, produced_at=res.clock.now(), click_id=click_id, ad_id=item.ad_id,
        adset_id=item.adset_id, campaign_id=item.campaign_id, fbclid=item.fbclid and pii.masked(item.fbclid),
        utm=Utm(**{k: pii.masked(v) for k, v in item.utm if v is not None}),
        ip_hash=ip_hash(key, item.ip), user_agent_hash=user_agent_hash(key, item.user_agent),
        email_hash=email_hash(key, item.email), device_id=item.device_id,
        referrer=minimized(item.referrer, url_patterns), landing_url=minimized(item.landing_url, url_patterns, 4000),
    )


def presented_key(request: Request) -> str:
    if key := request.headers.get("x-api-key"):
        return key.strip()
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def make_handler(context_of: context.ContextOf) -> Any:
    async def click_batch(request: Request) -> Response:
        ctx = context_of()
        res = ctx.res
        async with res.pool.acquire() as conn:
            tenant_id = await api_keys.tenant_for(conn, presented_key(request))
        if tenant_id is None:
            return error(ROUTE, 401, "missing or invalid API key")
        try:
            body = await read_body(request, ctx.config.click_batch_max_bytes, ctx.config.body_timeout_seconds)
        except BodyRejected as exc:
            return error(ROUTE, exc.status, str(exc))
        try:
            payload = parse_json(body)
        except ValueError:
            return error(ROUTE, 400, "body is not JSON")
        items = payload.get("clicks") if isinstance(payload, dict) else payload
        if not isinstance(items, list):
            return error(ROUTE, 400, 'body must be a JSON array of clicks or {"clicks": [...]}')
        if len(items) > ctx.config.click_batch_max_items:
            return error(ROUTE, 413, f"at most {ctx.config.click_batch_max_items} clicks per batch")
        if (wait := ctx.limiter.acquire(f"clicks:{tenant_id}", cost=max(1, len(items)))) is not None:
            return error(ROUTE, 429, "rate limit", {"Retry-After": retry_after_header(wait)})
        events: list[AdClicked] = []
        rejected: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            try:
                events.append(to_event(ClickIn.model_validate(item), tenant_id, res, ctx.url_patterns))
            except ValidationError as exc:
                rejected.append({"index": index, "error": describe(exc)})
        try:
            await publish_or_raise(res.publisher, events, ctx.config.publish_timeout_seconds)
        except PublishFailed:
            return error(ROUTE, 503, "broker unavailable, retry the batch", {"Retry-After": "10"})
        body_out = {"accepted": len(events), "rejected": rejected,
                    "click_ids": [e.click_id for e in events]}
        return json_response(ROUTE, 207 if rejected else 200, body_out)

    return click_batch
