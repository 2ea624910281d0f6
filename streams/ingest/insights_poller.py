"""The Meta insights poller: daily spend per ad set -> ``SpendReported`` snapshots on ``spend.v1``.

Every ``insights_interval_seconds`` it asks the Graph API for ad-set insights of each configured
ad account over the last ``insights_lookback_days`` days (Meta revises recent days, so they are
re-read), one row per ad set and day, following ``paging.next``. Usage headers are read on every
page: above the threshold the poller pauses before the next call instead of running into a block;
throttling errors and 5xx are retried with backoff.

Accounts come from two places: ``ROASLOOP_INGEST_INSIGHTS_ACCOUNTS`` (polled with the process-wide
``META_ACCESS_TOKEN``) and each tenant's stored ad accounts (:mod:`streams.core.controls.ad_accounts`,
polled with that account's own token and app secret, opened from their seal for the call). A token
Meta refuses (code 190, or 200: no permission on the account) marks that account ``refused`` - the
alerts stage raises on it - and the poll goes on with the other accounts; the next successful poll
clears the mark.

Each row is a snapshot, and its event id is derived from the entity, the day and the values
(``spend-<account>-<adset>-<day>-<digest>``): a re-poll that finds the same numbers publishes
nothing (``insights_snapshots`` remembers the last digest) and would carry the same id if it did,
while a revised number gets a new id and replaces the old snapshot downstream.

Ad sets a poll sees for the first time are also described once (their creative's features and
embedding, ``CreativeDescribed`` on ``creatives.v1``): :mod:`streams.ingest.creatives`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
import structlog

from schemas.events import SpendReported
from schemas.money import Money, to_minor
from streams.core.controls import ad_accounts
from streams.core.errors import RoasloopError, TransientError
from streams.core.redaction import register_secret, scrub_text
from streams.core.sealing import Sealer
from streams.core.web import publish_or_raise
from streams.ingest import context
from streams.ingest.creatives import CreativeDescriber
from streams.integrations.http_retry import send_with_retries
from streams.integrations.meta import THROTTLE_CODES, appsecret_proof, parse_usage

log = structlog.get_logger("roasloop.ingest.insights")
FIELDS = "account_id,account_currency,campaign_id,adset_id,spend,impressions,clicks,actions"
PAGE_LIMIT = 200
REFUSED_CODES = frozenset({190, 200})


class TokenRefused(RoasloopError):
    """Meta refused the account's token (revoked, expired, or no role on the account)."""


@dataclass(frozen=True)
class Snapshot:
    event: SpendReported
    digest: str


def throttle_delay(response: httpx.Response) -> float | None:
    """Seconds to wait when Meta answered with a throttling error, else None."""
    if response.status_code < 400:
        return None
    try:
        code = int((response.json().get("error") or {}).get("code") or 0)
    except (ValueError, AttributeError):
        return None
    if code not in THROTTLE_CODES:
        return None
    return max(parse_usage(response.headers).regain_seconds, 1.0)


def snapshot(row: dict[str, Any], tenant_id: str, account_id: str, now: datetime) -> Snapshot:
    currency = str(row.get("account_currency") or "USD")
    day = date.fromisoformat(str(row["date_start"]))
    results = {str(a["action_type"]): int(float(a["value"])) for a in row.get("actions") or []
               if isinstance(a, dict) and a.get("action_type")}
    spend_minor = to_minor(str(row.get("spend") or "0"), currency)
    impressions, clicks = int(row.get("impressions") or 0), int(row.get("clicks") or 0)
    values = json.dumps([spend_minor, currency, impressions, clicks, sorted(results.items())])
    digest = hashlib.sha256(values.encode()).hexdigest()[:16]
    adset_id, campaign_id = str(row["adset_id"]), str(row["campaign_id"])
    end_of_day = datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC) - timedelta(microseconds=1)
    event = SpendReported(
        event_id=f"spend-{account_id}-{adset_id}-{day.isoformat()}-{digest}", tenant_id=tenant_id,
        occurred_at=min(now, end_of_day), produced_at=now, group_id=campaign_id, campaign_id=campaign_id,
        entity_id=adset_id, entity_level="adset", account_id=account_id, day=day,
        spend=Money(amount_minor=spend_minor, currency=currency), impressions=impressions, clicks=clicks,
        platform_results=results,
    )
    return Snapshot(event, digest)


def _auth(token: str, app_secret: str) -> dict[str, str]:
    proof = appsecret_proof(token, app_secret)
    for secret in (token, app_secret, proof):
        register_secret(secret)
    return {"access_token": token, "appsecret_proof": proof}


def refusal(response: httpx.Response) -> str | None:
    """Meta's reason when it refused the token, scrubbed; None for any other answer."""
    if response.status_code < 400:
        return None
    try:
        error = response.json().get("error") or {}
        code = int(error.get("code") or 0)
    except (ValueError, AttributeError):
        return None
    if code not in REFUSED_CODES:
        return None
    return scrub_text(f"Meta error {code}/{error.get('error_subcode')}: {error.get('message', '')}")[:300]


class InsightsPoller:
    def __init__(self, ctx: context.IngestContext, http: httpx.AsyncClient, sealer: Sealer | None = None) -> None:
        s = ctx.res.settings
        self.ctx = ctx
        self.http = http
        self.sealer = sealer
        self.page_limit = PAGE_LIMIT
        self.base = f"{s.meta_graph_url.rstrip('/')}/{s.meta_api_version}"
        self.auth: dict[str, str] | None = None
        if s.meta_access_token is not None and s.meta_app_secret is not None:
            self.auth = _auth(s.meta_access_token.get_secret_value(), s.meta_app_secret.get_secret_value())
        self.creatives = CreativeDescriber(ctx.res, self.base, self._get)

    async def auth_for(self, tenant_id: str, account_id: str) -> dict[str, str]:
        """The account's own credentials when stored for this tenant, else the process-wide ones."""
        async with self.ctx.res.pool.acquire() as conn:
            creds = await ad_accounts.credentials_for(conn, self.sealer, tenant_id, account_id)
        if creds is not None:
            return _auth(creds.access_token.get_secret_value(), creds.app_secret.get_secret_value())
        if self.auth is None:
            raise TokenRefused(f"no credentials for {account_id}: store them or set META_ACCESS_TOKEN")
        return self.auth

    async def _get(self, url: str, params: dict[str, str] | None) -> dict[str, Any]:
        cfg, clock = self.ctx.config, self.ctx.res.clock
        response = await send_with_retries(
            lambda: self.http.get(url, params=params), clock=clock, api="meta", attempts=cfg.http_max_attempts,
            backoff_s=cfg.http_backoff_seconds, extra_delay=throttle_delay,
        )
        reason = refusal(response)
        if reason is not None:
            raise TokenRefused(reason)
        if response.status_code >= 400:
            raise TransientError(f"Meta insights: HTTP {response.status_code}")
        usage = parse_usage(response.headers)
        if usage.max_pct >= cfg.insights_usage_threshold_pct:  # slow down before Meta blocks us
            log.info("meta_usage_high", pct=usage.max_pct)
            await clock.sleep(max(usage.regain_seconds, 5.0 * (usage.max_pct - cfg.insights_usage_threshold_pct + 1)))
        body = response.json()
        if not isinstance(body, dict):
            raise TransientError("Meta insights: unexpected response")
        return body

    async def fetch(self, account_id: str, since: date, until: date,
                    auth: dict[str, str] | None = None) -> list[dict[str, Any]]:
        params: dict[str, str] | None = {
            **(auth or self.auth or {}), "level": "adset", "fields": FIELDS, "time_increment": "1",
            "limit": str(self.page_limit),
            "time_range": json.dumps({"since": since.isoformat(), "until": until.isoformat()}),
        }
        url = f"{self.base}/{account_id}/insights"
        rows: list[dict[str, Any]] = []
        for _ in range(10_000):
            body = await self._get(url, params)
            rows.extend(r for r in body.get("data") or [] if isinstance(r, dict))
            next_url = (body.get("paging") or {}).get("next")
            if not next_url:
                break
            url, params = str(next_url), None  # the next URL carries every parameter
        return rows

    async def poll_account(self, tenant_id: str, account_id: str) -> int:
        """Publish changed snapshots of one account; return how many were published."""
        res = self.ctx.res
        now = res.clock.now()
        until = now.date()
        auth = await self.auth_for(tenant_id, account_id)
        rows = await self.fetch(account_id, until - timedelta(days=self.ctx.config.insights_lookback_days - 1), until,
                                auth)
        snaps = [snapshot(r, tenant_id, account_id, now) for r in rows if r.get("adset_id") and r.get("date_start")]
        known = {(r["entity_id"], r["day"]): r["digest"] for r in await res.pool.fetch(
            "SELECT entity_id, day, digest FROM insights_snapshots WHERE tenant_id = $1 AND entity_id = ANY($2)",
            tenant_id, [s.event.entity_id for s in snaps])}
        fresh = [s for s in snaps if known.get((s.event.entity_id, s.event.day)) != s.digest]
        await publish_or_raise(res.publisher, [s.event for s in fresh], self.ctx.config.publish_timeout_seconds)
        await res.pool.executemany(
            "INSERT INTO insights_snapshots (tenant_id, entity_id, day, digest, event_id) VALUES ($1, $2, $3, $4, $5) "
            "ON CONFLICT (tenant_id, entity_id, day) DO UPDATE SET digest = $4, event_id = $5, published_at = now()",
            [(tenant_id, s.event.entity_id, s.event.day, s.digest, s.event.event_id) for s in fresh],
        )
        try:  # ad sets seen for the first time get their creative described (streams.ingest.creatives)
            await self.creatives.describe_new(tenant_id, {s.event.entity_id: s.event.campaign_id for s in snaps}, auth)
        except Exception as exc:  # the spend is published; the description is retried on the next poll
            log.warning("creatives_not_described", tenant_id=tenant_id, account_id=account_id,
                        error_type=type(exc).__name__, error=scrub_text(str(exc))[:300])
        return len(fresh)

    async def accounts(self) -> list[tuple[str, str]]:
        stored = await ad_accounts.polled_accounts(self.ctx.res.pool) if self.sealer is not None else []
        return list(dict.fromkeys([*self.ctx.config.accounts(), *stored]))

    async def poll_once(self) -> int:
        published = 0
        pool, now = self.ctx.res.pool, self.ctx.res.clock.now()
        for tenant_id, account_id in await self.accounts():
            try:
                published += await self.poll_account(tenant_id, account_id)
                await ad_accounts.mark_ok(pool, tenant_id, account_id)
            except TokenRefused as exc:
                log.warning("insights_token_refused", tenant_id=tenant_id, account_id=account_id, error=str(exc))
                await ad_accounts.mark_refused(pool, tenant_id, account_id, str(exc), now)
            except Exception as exc:  # one account's trouble must not stop the others
                log.warning("insights_poll_failed", tenant_id=tenant_id, account_id=account_id,
                            error_type=type(exc).__name__, error=str(exc)[:300])
        return published

    async def run(self) -> None:
        while True:
            published = await self.poll_once()
            log.info("insights_polled", published=published)
            await self.ctx.res.clock.sleep(self.ctx.config.insights_interval_seconds)


def start_poller(ctx: context.IngestContext, transport: httpx.AsyncBaseTransport | None) -> InsightsPoller | None:
    """Spawn the poll loop when accounts can be polled: stored ones (a credentials key is set) or
    configured ones with the process-wide Meta token."""
    s = ctx.res.settings
    sealer = Sealer.from_setting(s.credentials_keys)
    if sealer is None:
        if not ctx.config.accounts():
            return None
        if s.meta_access_token is None:
            log.warning("insights_poller_disabled", reason="no META_ACCESS_TOKEN")
            return None
    http = httpx.AsyncClient(timeout=httpx.Timeout(ctx.config.http_timeout_seconds), transport=transport)
    poller = InsightsPoller(ctx, http, sealer)
    ctx.closers.append(http.aclose)
    ctx.res.spawn(poller.run(), name="insights-poller")
    ctx.poller = poller
    return poller

