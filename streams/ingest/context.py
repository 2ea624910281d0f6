"""What the ingest endpoints share at run time, built once when the stage starts.

Routes are created before the stage starts (the runner asks for them up front), so handlers ask
the stage for this context at call time (a :data:`ContextOf`) instead of closing over half-built
objects. Tests build the stage with their own :class:`IngestSettings` and HTTP transports.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from streams.core.stage import Resources
from streams.ingest.hubspot_deliveries import DeliveryLog
from streams.ingest.lookups import ClickLookups
from streams.ingest.rate_limit import RateLimiter
from streams.ingest.settings import IngestSettings, load_ingest_settings
from streams.integrations.hubspot import ContactProperties, HubSpotClient


@dataclass
class Transports:
    """Optional httpx transports, for tests that stand in for HubSpot or Meta."""

    hubspot: httpx.AsyncBaseTransport | None = None
    meta: httpx.AsyncBaseTransport | None = None


@dataclass
class IngestContext:
    res: Resources
    config: IngestSettings
    limiter: RateLimiter
    lookups: ClickLookups
    deliveries: DeliveryLog
    """Delivery keys of published HubSpot notifications, written behind (``start`` runs its writer)."""
    url_patterns: tuple[str, ...]
    """Query parameters a click keeps of its URLs (``ROASLOOP_INGEST_URL_QUERY_ALLOW``)."""
    hubspot: HubSpotClient | None = None
    portal_tenants: dict[int, tuple[str, float]] = field(default_factory=dict)
    """HubSpot portal -> (tenant, monotonic time looked up), see ``webhooks.tenants_by_portal``."""
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    poller: Any = None
    """The running :class:`~streams.ingest.insights_poller.InsightsPoller`, if accounts are configured."""

    async def close(self) -> None:
        await self.deliveries.close()
        for closer in self.closers:
            await closer()
        if self.hubspot is not None:
            await self.hubspot.aclose()


def build(res: Resources, config: IngestSettings | None, transports: Transports) -> IngestContext:
    config = config or load_ingest_settings()
    s = res.settings
    hubspot = None
    if s.hubspot_access_token is not None:
        hubspot = HubSpotClient(
            base_url=s.hubspot_api_url, token=s.hubspot_access_token, hash_key=s.hash_key,
            default_currency=s.default_currency, timeout_s=config.http_timeout_seconds,
            attempts=config.http_max_attempts, backoff_s=config.http_backoff_seconds,
            properties=ContactProperties.parse(config.hubspot_contact_properties), clock=res.clock,
            transport=transports.hubspot,
        )
    return IngestContext(
        res=res, config=config, hubspot=hubspot,
        limiter=RateLimiter(config.rate_limit_per_second, config.rate_limit_burst),
        lookups=ClickLookups(config.lookup_cache_seconds), url_patterns=config.url_query_patterns(),
        deliveries=DeliveryLog(res),
    )


ContextOf = Callable[[], IngestContext]
"""How a route finds the running stage's context (raises if the stage has not started)."""
