"""HubSpot webhook notifications -> ``DealStageChanged``, with the delivery key that dedupes them.

HubSpot may deliver the same notification more than once (retries after a timeout or a 5xx), and
its ``eventId`` alone is not unique across portals and subscriptions. The delivery key is a
SHA-256 over every field that makes a notification itself: portal, subscription, event, time,
object, property and value. The event id is derived from that key, so a duplicate that slips
through (crash between publish and recording the key) carries the same ``event_id`` and is dropped
by downstream inboxes.

Each element of a batch is read on its own and every field has the bounds its use needs (ids within
int64 because PostgreSQL and the delivery key take them, times within the calendar), so one bad
element is rejected alone instead of failing - and HubSpot retrying - the whole batch.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas.codec import describe
from schemas.events import DealStageChanged
from streams.integrations.hubspot import DealDetails

DEAL_STAGE_SUBSCRIPTION = "deal.propertyChange"
DEAL_STAGE_PROPERTY = "dealstage"
INT64_MAX = 2**63 - 1
LAST_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z, the last instant a datetime holds

HubSpotId = Annotated[int, Field(ge=0, le=INT64_MAX)] | Annotated[str, Field(min_length=1, max_length=200)]


class InvalidNotification(ValueError):
    """One element of a batch that cannot become an event; the message names the field."""


class Notification(BaseModel):
    """One element of HubSpot's webhook batch (fields we do not use are ignored)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    event_id: HubSpotId = Field(alias="eventId")
    subscription_id: HubSpotId = Field(alias="subscriptionId")
    portal_id: int = Field(alias="portalId", ge=0, le=INT64_MAX)
    occurred_at_ms: int = Field(alias="occurredAt", ge=0, le=LAST_MS)
    subscription_type: str = Field(alias="subscriptionType", max_length=200)
    object_id: HubSpotId = Field(alias="objectId")
    property_name: str | None = Field(default=None, alias="propertyName", max_length=200)
    property_value: str | None = Field(default=None, alias="propertyValue", max_length=10_000)
    attempt_number: int = Field(default=0, alias="attemptNumber", ge=0, le=INT64_MAX)

    @property
    def is_deal_stage_change(self) -> bool:
        return (self.subscription_type == DEAL_STAGE_SUBSCRIPTION and self.property_name == DEAL_STAGE_PROPERTY
                and bool(self.property_value))

    @property
    def occurred_at(self) -> datetime:
        return datetime.fromtimestamp(self.occurred_at_ms / 1000, tz=UTC)

    def delivery_key(self) -> str:
        """Same notification, same key - whatever ``attemptNumber`` the retry carries."""
        parts = (self.portal_id, self.subscription_id, self.event_id, self.occurred_at_ms, self.object_id,
                 self.subscription_type, self.property_name or "", self.property_value or "")
        return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()

    def event_id_for(self) -> str:
        return "hubspot-" + self.delivery_key()[:48]


def parse_item(item: Any) -> Notification:
    """The notification in one element of the batch, or :class:`InvalidNotification` naming the field."""
    if not isinstance(item, dict):
        raise InvalidNotification("a notification must be a JSON object")
    try:
        return Notification.model_validate(item)
    except ValidationError as exc:
        raise InvalidNotification(describe(exc)) from None


def deal_stage_event(note: Notification, tenant_id: str, produced_at: datetime) -> DealStageChanged:
    """The event a deal-stage notification becomes, before enrichment; validated here, so a deal id
    or stage the event schema refuses rejects this one notification (:class:`InvalidNotification`)."""
    try:
        return DealStageChanged(
            event_id=note.event_id_for(), tenant_id=tenant_id, occurred_at=note.occurred_at,
            produced_at=produced_at, deal_id=str(note.object_id), stage_id=str(note.property_value),
            source="hubspot",
        )
    except ValidationError as exc:
        raise InvalidNotification(describe(exc)) from None


def enriched(event: DealStageChanged, details: DealDetails) -> DealStageChanged:
    """``event`` with what the CRM told about its deal (already validated by the CRM client's models)."""
    return event.model_copy(update={"pipeline_id": details.pipeline_id or "default", "amount": details.amount,
                                    "contact": details.contact})
