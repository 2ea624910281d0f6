"""What the simulated market shows the world: its entities and one day's outcome.

These are plain frozen dataclasses so they are cheap to build, compare and hash (the
determinism test compares whole outcome streams). ``market_events`` turns them into roasloop's
wire events and HubSpot webhook batches.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from schemas.pipeline import HUBSPOT_STAGES

ALL_STAGES: tuple[str, ...] = tuple(HUBSPOT_STAGES)
"""HubSpot's default sales pipeline, in order; deals move forward through it or drop to closed-lost."""
CLOSED_LOST = "closedlost"
STAGE_ORDER: tuple[str, ...] = tuple(s for s in ALL_STAGES if s != CLOSED_LOST)


@dataclass(frozen=True)
class AdEntity:
    ad_id: str
    adset_id: str
    campaign_id: str
    name: str
    launch_day: int


@dataclass(frozen=True)
class AdSetEntity:
    adset_id: str
    campaign_id: str
    group_id: str
    name: str
    min_budget_minor: int
    initial_budget_minor: int
    launch_day: int
    ads: tuple[AdEntity, ...]


@dataclass(frozen=True)
class CampaignEntity:
    campaign_id: str
    name: str
    adsets: tuple[AdSetEntity, ...]


@dataclass(frozen=True)
class GroupEntity:
    """An allocation group. Under ad-set budgets it is one campaign and ``group_id == campaign_id``."""

    group_id: str
    name: str
    entity_level: str  # "adset": the entities sharing the total are ad sets
    total_budget_minor: int
    campaigns: tuple[CampaignEntity, ...]

    @property
    def adsets(self) -> tuple[AdSetEntity, ...]:
        return tuple(a for c in self.campaigns for a in c.adsets)


@dataclass(frozen=True)
class MarketEntities:
    tenant_id: str
    currency: str
    account_id: str  # digits only; Meta's path form is ``act_<account_id>``
    portal_id: int
    start_date: date
    groups: tuple[GroupEntity, ...]

    def adsets(self) -> tuple[AdSetEntity, ...]:
        return tuple(a for g in self.groups for a in g.adsets)

    def adset(self, adset_id: str) -> AdSetEntity:
        for a in self.adsets():
            if a.adset_id == adset_id:
                return a
        raise KeyError(adset_id)

    def group(self, group_id: str) -> GroupEntity:
        for g in self.groups:
            if g.group_id == group_id:
                return g
        raise KeyError(group_id)


@dataclass(frozen=True)
class AdSetDay:
    """Delivery of one ad set on one day (what Meta insights report)."""

    adset_id: str
    campaign_id: str
    group_id: str
    day: date
    daily_budget_minor: int
    spend_minor: int
    impressions: int
    clicks: int
    leads: int  # deals created from this day's clicks (they may surface on later days)
    clicks_by_ad: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class ClickRecord:
    """One ad click; raw identifiers are kept so any consumer can hash them with its own key."""

    click_id: str
    ad_id: str
    adset_id: str
    campaign_id: str
    group_id: str
    occurred_at: datetime
    fbclid: str
    ip: str
    user_agent: str
    email: str  # the person's address (sandbox-only, example.com)
    email_on_click: bool  # whether the click event carries the email hash
    landing_url: str


@dataclass(frozen=True)
class ContactRecord:
    """A CRM contact created by a form fill after a click; ``None`` where the CRM lost a signal."""

    contact_id: str
    deal_id: str
    created_at: datetime
    email: str
    click_id: str | None
    fbclid: str | None
    ip: str | None
    user_agent: str | None
    # ground truth, not visible to roasloop through the CRM:
    true_click_id: str
    ad_id: str
    adset_id: str
    campaign_id: str


@dataclass(frozen=True)
class StageChange:
    """A deal moving to a HubSpot pipeline stage. ``amount_minor`` is set on ``closedwon``."""

    deal_id: str
    contact_id: str
    stage_id: str
    previous_stage_id: str | None
    occurred_at: datetime
    amount_minor: int | None
    # ground truth:
    click_id: str
    ad_id: str
    adset_id: str
    campaign_id: str
    group_id: str
    contact: ContactRecord | None = None  # the deal's contact, as the CRM holds it


@dataclass(frozen=True)
class DayOutcome:
    """Everything that happened in the market on one simulated day, in time order."""

    day_index: int
    day: date
    start: datetime
    end: datetime
    currency: str
    tenant_id: str
    delivery: tuple[AdSetDay, ...]
    clicks: tuple[ClickRecord, ...]
    contacts: tuple[ContactRecord, ...]
    stage_changes: tuple[StageChange, ...]

    def total_spend_minor(self) -> int:
        return sum(d.spend_minor for d in self.delivery)

    def delivery_of(self, adset_id: str) -> AdSetDay | None:
        for d in self.delivery:
            if d.adset_id == adset_id:
                return d
        return None
