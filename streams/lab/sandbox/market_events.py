"""A market day as roasloop sees it: wire events and HubSpot webhook payloads.

Event ids are derived from what the event is about (``sbx-click-<click id>``,
``sbx-deal-<deal>-<stage>``, ``sbx-spend-<ad set>-<day>``), so replaying a day produces the
same ids and every downstream inbox treats the replay as a duplicate. ``produced_at`` defaults
to the event time, which keeps whole event streams byte-identical for one scenario and seed.

Identifiers are hashed like roasloop's ingress hashes them: HMAC-SHA256 keyed with the
deployment's hash key (``ROASLOOP_HASH_KEY``; the default here is the dev default) over the
normalised value (emails trimmed and lower-cased, IPs and user agents trimmed).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from schemas.events import AdClicked, ContactSignals, DealStageChanged, SpendReported, Utm
from schemas.money import Money
from streams.core.hashing import keyed_hash, normalize_email
from streams.lab.sandbox.hubspot_webhooks import deal_stage_event
from streams.lab.sandbox.market_types import DayOutcome

DEV_HASH_KEY = "roasloop-dev-hash-key-change-me"
SANDBOX_APP_ID = 54321
SANDBOX_SUBSCRIPTION_ID = 12345
AnyMarketEvent = AdClicked | DealStageChanged | SpendReported


def hash_identifier(value: str, key: str = DEV_HASH_KEY, *, email: bool = False) -> str:
    """The shared keyed hash (:func:`streams.core.hashing.keyed_hash`); emails normalised first."""
    return keyed_hash(key, normalize_email(value) if email else value.strip())


def _utm(campaign_id: str, adset_id: str, ad_id: str) -> Utm:
    return Utm(source="facebook", medium="paid_social", campaign=campaign_id, content=adset_id, id=ad_id)


def click_events(
    outcome: DayOutcome, *, hash_key: str = DEV_HASH_KEY, produced_at: datetime | None = None
) -> list[AdClicked]:
    out = []
    for c in outcome.clicks:
        out.append(
            AdClicked(
                event_id=f"sbx-click-{c.click_id}",
                tenant_id=outcome.tenant_id,
                occurred_at=c.occurred_at,
                produced_at=produced_at or c.occurred_at,
                click_id=c.click_id,
                ad_id=c.ad_id,
                adset_id=c.adset_id,
                campaign_id=c.campaign_id,
                fbclid=c.fbclid,
                utm=_utm(c.campaign_id, c.adset_id, c.ad_id),
                ip_hash=hash_identifier(c.ip, hash_key),
                user_agent_hash=hash_identifier(c.user_agent, hash_key),
                email_hash=hash_identifier(c.email, hash_key, email=True) if c.email_on_click else None,
                landing_url=c.landing_url,
            )
        )
    return out


def stage_events(
    outcome: DayOutcome, *, hash_key: str = DEV_HASH_KEY, produced_at: datetime | None = None
) -> list[DealStageChanged]:
    """Deal stage changes with the contact signals the CRM holds (what CRM enrichment would find)."""
    out = []
    for s in outcome.stage_changes:
        contact = s.contact
        signals = ContactSignals(contact_id=s.contact_id)
        if contact is not None:
            signals = ContactSignals(
                contact_id=s.contact_id,
                click_id=contact.click_id,
                fbclid=contact.fbclid,
                email_hash=hash_identifier(contact.email, hash_key, email=True),
                ip_hash=hash_identifier(contact.ip, hash_key) if contact.ip else None,
                user_agent_hash=hash_identifier(contact.user_agent, hash_key) if contact.user_agent else None,
            )
        amount = None if s.amount_minor is None else Money(amount_minor=s.amount_minor, currency=outcome.currency)
        out.append(
            DealStageChanged(
                event_id=f"sbx-deal-{s.deal_id}-{s.stage_id}",
                tenant_id=outcome.tenant_id,
                occurred_at=s.occurred_at,
                produced_at=produced_at or s.occurred_at,
                deal_id=s.deal_id,
                stage_id=s.stage_id,
                previous_stage_id=s.previous_stage_id,
                amount=amount,
                contact=signals,
                source="sandbox",
            )
        )
    return out


def spend_events(outcome: DayOutcome, *, account_id: str | None = None) -> list[SpendReported]:
    """One ``SpendReported`` snapshot per ad set that delivered, stamped at the end of the day."""
    return [
        SpendReported(
            event_id=f"sbx-spend-{d.adset_id}-{d.day.isoformat()}",
            tenant_id=outcome.tenant_id,
            occurred_at=outcome.end,
            produced_at=outcome.end,
            group_id=d.group_id,
            campaign_id=d.campaign_id,
            entity_id=d.adset_id,
            account_id=account_id,
            day=d.day,
            spend=Money(amount_minor=d.spend_minor, currency=outcome.currency),
            impressions=d.impressions,
            clicks=d.clicks,
            platform_results={"link_click": d.clicks, "lead": d.leads},
            daily_budget_minor=d.daily_budget_minor,
        )
        for d in outcome.delivery
    ]


def outcome_events(
    outcome: DayOutcome, *, hash_key: str = DEV_HASH_KEY, account_id: str | None = None
) -> list[AnyMarketEvent]:
    """Every event of the day in event-time order (spend snapshots last, at the day's end)."""
    timed: list[AnyMarketEvent] = [
        *click_events(outcome, hash_key=hash_key),
        *stage_events(outcome, hash_key=hash_key),
    ]
    timed.sort(key=lambda e: (e.occurred_at, e.event_id))
    return [*timed, *spend_events(outcome, account_id=account_id)]


def webhook_events(
    outcome: DayOutcome,
    *,
    portal_id: int,
    app_id: int = SANDBOX_APP_ID,
    subscription_id: int = SANDBOX_SUBSCRIPTION_ID,
) -> list[dict[str, Any]]:
    """The day's stage changes as HubSpot ``deal.propertyChange`` events (batch with ``batches``)."""
    return [
        deal_stage_event(
            deal_id=s.deal_id,
            stage_id=s.stage_id,
            occurred_at=s.occurred_at,
            portal_id=portal_id,
            app_id=app_id,
            subscription_id=subscription_id,
        )
        for s in outcome.stage_changes
    ]
