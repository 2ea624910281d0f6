"""Launch events: a person asks to create a campaign, an ad set or an ad on Meta, or to pause,
resume or re-bid an existing one (``launch.requests.v1``), and what became of it
(``launch.outcomes.v1``).

Why the specs are closed vocabularies rather than free-form Graph parameters: a request is
validated where it is made (the operator API answers 400 naming the field) instead of failing
minutes later at Meta, and the launcher can only send what it understands. The vocabularies are
the Marketing API's (ODAX objectives, special ad categories, optimisation goals, billing events,
bid strategies). Money is minor units of the ad account's currency, like every budget in roasloop.
An ad set or ad names its parent either by Meta id or by the ``request_id`` of the launch that
created it (resolved by the launcher, which handles one tenant's requests in order).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from schemas.bounds import WholeNumber
from schemas.envelope import EntityId, Envelope, EventId

Objective = Literal["OUTCOME_AWARENESS", "OUTCOME_TRAFFIC", "OUTCOME_ENGAGEMENT", "OUTCOME_LEADS",
                    "OUTCOME_APP_PROMOTION", "OUTCOME_SALES"]
SpecialAdCategory = Literal["EMPLOYMENT", "HOUSING", "FINANCIAL_PRODUCTS_SERVICES", "ISSUES_ELECTIONS_POLITICS",
                            "ONLINE_GAMBLING_AND_GAMING"]
OptimizationGoal = Literal["LEAD_GENERATION", "QUALITY_LEAD", "OFFSITE_CONVERSIONS", "LINK_CLICKS",
                           "LANDING_PAGE_VIEWS", "IMPRESSIONS", "REACH", "THRUPLAY", "VALUE"]
BillingEvent = Literal["IMPRESSIONS", "LINK_CLICKS", "THRUPLAY"]
BidStrategy = Literal["LOWEST_COST_WITHOUT_CAP", "LOWEST_COST_WITH_BID_CAP", "COST_CAP"]
CallToAction = Literal["LEARN_MORE", "SIGN_UP", "APPLY_NOW", "GET_QUOTE", "CONTACT_US", "DOWNLOAD", "BOOK_NOW",
                       "SUBSCRIBE"]
LaunchStatus = Literal["PAUSED", "ACTIVE"]
LaunchKind = Literal["campaign", "adset", "ad", "status", "bid"]
LaunchOutcome = Literal["created", "applied", "blocked", "dry_run", "failed"]
Minor = Annotated[int, Field(ge=1, le=100_000_000_000), WholeNumber]
Country = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
Name = Annotated[str, Field(min_length=1, max_length=200)]


def _kind_required(schema: dict[str, Any]) -> None:
    """The decoder picks a spec by ``kind``, so a producer must send it (Python code gets the default)."""
    required = schema.setdefault("required", [])
    if "kind" not in required:
        required.insert(0, "kind")


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra=_kind_required)


class CampaignSpec(_Spec):
    kind: Literal["campaign"] = "campaign"
    name: Name
    objective: Objective
    special_ad_categories: list[SpecialAdCategory] = Field(default_factory=list, max_length=5)
    daily_budget_minor: Minor | None = Field(default=None, description="Campaign budget (CBO); else per ad set")
    group_id: EntityId | None = Field(default=None, description="Allocation group; defaults to the campaign")


class Targeting(_Spec):
    countries: list[Country] = Field(min_length=1, max_length=50)
    age_min: Annotated[int, WholeNumber] = Field(default=18, ge=13, le=65)
    age_max: Annotated[int, WholeNumber] = Field(default=65, ge=13, le=65)

    @model_validator(mode="after")
    def _ages(self) -> Self:
        if self.age_min > self.age_max:
            raise ValueError("age_min is above age_max")
        return self


class AdSetSpec(_Spec):
    kind: Literal["adset"] = "adset"
    name: Name
    campaign_id: EntityId | None = None
    campaign_request_id: EventId | None = None
    daily_budget_minor: Minor
    optimization_goal: OptimizationGoal
    billing_event: BillingEvent = "IMPRESSIONS"
    targeting: Targeting
    bid_strategy: BidStrategy | None = None
    bid_amount_minor: Minor | None = None
    start_time: AwareDatetime | None = None
    end_time: AwareDatetime | None = None
    pixel_id: EntityId | None = Field(default=None, description="For OFFSITE_CONVERSIONS (website conversions)")
    page_id: EntityId | None = Field(default=None, description="For LEAD_GENERATION (lead ads)")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.campaign_id is None) == (self.campaign_request_id is None):
            raise ValueError("give exactly one of campaign_id and campaign_request_id")
        if self.bid_strategy in ("LOWEST_COST_WITH_BID_CAP", "COST_CAP") and self.bid_amount_minor is None:
            raise ValueError(f"bid_amount_minor is required with bid_strategy {self.bid_strategy}")
        if self.start_time and self.end_time and self.end_time <= self.start_time:
            raise ValueError("end_time is not after start_time")
        return self


class AdSpec(_Spec):
    kind: Literal["ad"] = "ad"
    name: Name
    adset_id: EntityId | None = None
    adset_request_id: EventId | None = None
    asset_id: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_\-]+$")]
    page_id: EntityId
    landing_url: Annotated[str, Field(min_length=8, max_length=2000, pattern=r"^https?://[^\s]+$")]
    message: str = Field(default="", max_length=2000)
    headline: str = Field(default="", max_length=255)
    call_to_action: CallToAction = "LEARN_MORE"
    thumbnail_url: Annotated[str, Field(max_length=2000, pattern=r"^https://[^\s]+$")] | None = Field(
        default=None, description="A video ad's thumbnail; else the first frame Meta picks")

    @model_validator(mode="after")
    def _parent(self) -> Self:
        if (self.adset_id is None) == (self.adset_request_id is None):
            raise ValueError("give exactly one of adset_id and adset_request_id")
        return self


class StatusSpec(_Spec):
    """Pause or resume an existing ad set or ad (a person's stop, or a resumption)."""

    kind: Literal["status"] = "status"
    entity_id: EntityId
    entity_level: Literal["adset", "ad"] = "adset"
    status: LaunchStatus
    reason: str = Field(default="", max_length=500)


class BidSpec(_Spec):
    """Change an ad set's bid amount and/or bid strategy."""

    kind: Literal["bid"] = "bid"
    entity_id: EntityId
    bid_strategy: BidStrategy | None = None
    bid_amount_minor: Minor | None = None
    reason: str = Field(default="", max_length=500)

    @model_validator(mode="after")
    def _something(self) -> Self:
        if self.bid_strategy is None and self.bid_amount_minor is None:
            raise ValueError("give bid_strategy, bid_amount_minor or both")
        if self.bid_strategy in ("LOWEST_COST_WITH_BID_CAP", "COST_CAP") and self.bid_amount_minor is None:
            raise ValueError(f"bid_amount_minor is required with bid_strategy {self.bid_strategy}")
        return self


LaunchSpec = Annotated[CampaignSpec | AdSetSpec | AdSpec | StatusSpec | BidSpec, Field(discriminator="kind")]


class LaunchRequested(Envelope):
    """Create one object on Meta (``launch.requests.v1``, keyed by tenant: one tenant's launches in order)."""

    event_type: Literal["LaunchRequested"] = "LaunchRequested"
    request_id: EventId
    account_id: Annotated[str, Field(pattern=r"^act_[0-9]{1,20}$")]
    status: LaunchStatus = Field(default="PAUSED", description="Created PAUSED unless asked otherwise")
    requested_by: str = Field(min_length=1, max_length=200)
    spec: LaunchSpec


class LaunchSettled(Envelope):
    """What became of a launch request (``launch.outcomes.v1``): exactly one per request."""

    event_type: Literal["LaunchSettled"] = "LaunchSettled"
    request_id: EventId
    account_id: str
    kind: LaunchKind
    outcome: LaunchOutcome
    created: dict[str, str] = Field(default_factory=dict, description="Meta ids: campaign_id, adset_id, ad_id ...")
    error: str | None = Field(default=None, max_length=2000)
