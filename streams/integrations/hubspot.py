"""HubSpot CRM API client for the one thing ingest needs: what a deal's contact can tell attribution.

A deal-stage webhook carries only the deal id. The click that produced the deal is found through
the deal's associated contact: the roasloop click id (``rl_cid``) or fbclid the landing page stored
on it, its email, IP and user agent. This client reads the deal (amount, currency, pipeline,
associations) and then the first associated contact, and returns :class:`DealDetails` with every
personal identifier already keyed-hashed: raw emails and IPs never leave this module.

Authenticates with a private-app token (``Authorization: Bearer``); 429 and 5xx are retried with
backoff, other errors are not. A deal or contact that no longer exists (404) is not an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
import structlog
from pydantic import SecretStr

from schemas.events import ContactSignals
from schemas.money import Money, to_minor
from streams.core.clock import Clock, WallClock
from streams.core.errors import TransientError
from streams.core.hashing import email_hash, ip_hash, user_agent_hash
from streams.core.metrics import EXTERNAL_API_SECONDS
from streams.core.redaction import register_secret
from streams.integrations.http_retry import send_with_retries

log = structlog.get_logger("roasloop.ingest.hubspot")

DEAL_PROPERTIES = "amount,deal_currency_code,pipeline,dealstage"


class HubSpotError(Exception):
    """A non-retryable answer from HubSpot (bad token, forbidden scope, malformed response)."""


@dataclass(frozen=True)
class ContactProperties:
    """Names of the contact properties that carry each signal (portals name custom ones freely)."""

    email: str = "email"
    click_id: str = "roasloop_click_id"  # the rl_cid URL parameter, stored by the landing page
    fbclid: str = "fbclid"
    ip: str = "roasloop_ip_address"
    user_agent: str = "roasloop_user_agent"
    device_id: str = "roasloop_device_id"
    utm_ad_id: str = "roasloop_utm_ad_id"

    @classmethod
    def parse(cls, csv: str) -> ContactProperties:
        names = [n.strip() for n in csv.split(",")]
        if len(names) != 7 or not all(names):
            raise ValueError("contact properties: expected 7 comma-separated names")
        return cls(*names)

    def all(self) -> list[str]:
        return [self.email, self.click_id, self.fbclid, self.ip, self.user_agent, self.device_id,
                self.utm_ad_id]


@dataclass(frozen=True)
class DealDetails:
    pipeline_id: str | None = None
    amount: Money | None = None
    contact: ContactSignals = field(default_factory=ContactSignals)


class HubSpotClient:
    def __init__(self, *, base_url: str, token: SecretStr, hash_key: SecretStr, default_currency: str,
                 timeout_s: float = 5.0, attempts: int = 4, backoff_s: float = 0.5,
                 properties: ContactProperties | None = None, clock: Clock | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), timeout=httpx.Timeout(timeout_s), transport=transport,
            headers={"Authorization": f"Bearer {token.get_secret_value()}", "Accept": "application/json"},
        )
        self._hash_key = hash_key
        register_secret(token)  # HubSpot's errors may quote the request; logs must not
        self._currency = default_currency
        self._attempts = attempts
        self._backoff_s = backoff_s
        self._properties = properties or ContactProperties()
        self._clock = clock or WallClock()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _get(self, path: str, params: dict[str, str], operation: str) -> dict[str, Any] | None:
        with EXTERNAL_API_SECONDS.labels(api="hubspot", operation=operation).time():
            response = await send_with_retries(
                lambda: self._http.get(path, params=params), clock=self._clock, api="hubspot",
                attempts=self._attempts, backoff_s=self._backoff_s,
            )
        if response.status_code == 404:
            return None
        if response.status_code in (401, 403):
            raise HubSpotError(f"HubSpot refused {operation} (HTTP {response.status_code}): check the token")
        if response.status_code >= 400:
            raise HubSpotError(f"HubSpot {operation}: HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise TransientError(f"HubSpot {operation}: response is not JSON") from None
        if not isinstance(body, dict):
            raise HubSpotError(f"HubSpot {operation}: unexpected response shape")
        return body

    async def _contact_ids(self, deal_id: str, deal: dict[str, Any]) -> list[str]:
        associations = deal.get("associations")
        if isinstance(associations, dict):
            results = (associations.get("contacts") or {}).get("results") or []
        else:  # older portals / stand-ins: ask the v4 associations endpoint
            path = f"/crm/v4/objects/deals/{deal_id}/associations/contacts"
            body = await self._get(path, {}, "associations")
            results = (body or {}).get("results") or []
        ids = [str(r.get("id") or r.get("toObjectId") or "") for r in results if isinstance(r, dict)]
        return [i for i in ids if i]

    async def deal_details(self, deal_id: str) -> DealDetails:
        """Pipeline, amount and the hashed signals of the deal's first associated contact."""
        deal = await self._get(
            f"/crm/v3/objects/deals/{deal_id}",
            {"properties": DEAL_PROPERTIES, "associations": "contacts"}, "get_deal",
        )
        if deal is None:
            return DealDetails()
        props = deal.get("properties") or {}
        amount = self._amount(props)
        contact_ids = await self._contact_ids(deal_id, deal)
        contact = ContactSignals()
        if contact_ids:
            contact = await self.contact_signals(contact_ids[0])
        return DealDetails(pipeline_id=props.get("pipeline") or None, amount=amount, contact=contact)

    def _amount(self, props: dict[str, Any]) -> Money | None:
        raw = props.get("amount")
        currency = props.get("deal_currency_code") or self._currency
        if raw in (None, ""):
            return None
        try:
            minor = to_minor(raw, currency)
            return Money(amount_minor=minor, currency=currency) if minor >= 0 else None
        except ValueError:
            log.warning("hubspot_amount_unreadable", currency=currency)
            return None

    async def contact_signals(self, contact_id: str) -> ContactSignals:
        p = self._properties
        body = await self._get(f"/crm/v3/objects/contacts/{contact_id}", {"properties": ",".join(p.all())},
                               "get_contact")
        props: dict[str, Any] = (body or {}).get("properties") or {}

        def text(name: str, limit: int = 500) -> str | None:
            value = props.get(name)
            return str(value).strip()[:limit] or None if value not in (None, "") else None

        return ContactSignals(
            contact_id=contact_id,
            click_id=text(p.click_id, 64),
            fbclid=text(p.fbclid),
            utm_ad_id=text(p.utm_ad_id, 64),
            email_hash=email_hash(self._hash_key, text(p.email)),
            device_id=text(p.device_id, 200),
            ip_hash=ip_hash(self._hash_key, text(p.ip)),
            user_agent_hash=user_agent_hash(self._hash_key, text(p.user_agent, 2000)),
        )
