"""HubSpot webhook notifications -> ``DealStageChanged``, with the delivery key that dedupes them.

HubSpot may deliver the same notification more than once (retries after a timeout or a 5xx), and
its ``eventId`` alone is not unique across portals and subscriptions. The delivery key is a
SHA-256 over every field that makes a notification itself: portal, subscription, event, time,
object, property and value. The event id is derived from that key, so a duplicate that slips
through (crash between publish and recording the key) carries the same ``event_id`` and is dropped
by downstream inboxes.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas.events import DealStageChanged
from streams.integrations.hubspot import DealDetails

DEAL_STAGE_SUBSCRIPTION = "deal.propertyChange"
DEAL_STAGE_PROPERTY = "dealstage"


class Notification(BaseModel):
    """One element of HubSpot's webhook batch (fields we do not use are ignored)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    event_id: int | str = Field(alias="eventId")
    subscription_id: int | str = Field(alias="subscriptionId")
    portal_id: int = Field(alias="portalId")
    occurred_at_ms: int = Field(alias="occurredAt", ge=0)
    subscription_type: str = Field(alias="subscriptionType")
    object_id: int | str = Field(alias="objectId")
    property_name: str | None = Field(default=None, alias="propertyName")
    property_value: str | None = Field(default=None, alias="propertyValue")
    attempt_number: int = Field(default=0, alias="attemptNumber")

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


def parse_item(item: Any) -> Notification | None:
    """A notification, or None for an element we cannot read (acknowledged, counted, skipped)."""
    if not isinstance(item, dict):
        return None
    try:
        return Notification.model_validate(item)
    except ValidationError:
        return None


def deal_stage_event(note: Notification, tenant_id: str, details: DealDetails, produced_at: datetime
                     ) -> DealStageChanged:
    return DealStageChanged(
        event_id=note.event_id_for(),
        tenant_id=tenant_id,
        occurred_at=note.occurred_at,
        produced_at=produced_at,
        deal_id=str(note.object_id),
        pipeline_id=details.pipeline_id or "default",
        stage_id=str(note.property_value),
        amount=details.amount,
        contact=details.contact,
        source="hubspot",
    )
