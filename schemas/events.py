"""Pydantic models of every event on roasloop's topics (see ``schemas.topics`` for the catalog).

Identifiers of the ad hierarchy are Meta's: ``ad_id`` < ``adset_id`` < ``campaign_id`` < ad
account. ``group_id`` is the *allocation group* - the set of entities sharing one total budget:
a campaign (its ad sets have budgets) or an ad account (its campaigns have budgets). Topics that
feed one sampler or executor instance are keyed by ``tenant_id:group_id``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.bounds import Count, Int64, MinorUnits, Ordinal, WholeNumber
from schemas.creatives import MAX_EMBEDDING_DIM, CreativeFeatures
from schemas.envelope import Confidence, EntityId, Envelope, Timestamp
from schemas.money import CurrencyCode, Money, SignedMoney

Hash = str  # hex keyed hash (HMAC-SHA256) of a normalized identifier; never the raw value
EntityLevel = Literal["adset", "campaign"]


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Utm(_Part):
    source: str | None = None
    medium: str | None = None
    campaign: str | None = None
    content: str | None = None
    term: str | None = None
    id: str | None = Field(default=None, description="utm_id: roasloop puts the ad id here")


class AdClicked(Envelope):
    """A click on an ad, recorded by the redirect or sent by a producer (``clicks.v1``)."""

    event_type: Literal["AdClicked"] = "AdClicked"
    click_id: EntityId = Field(description="roasloop click id, appended to the landing URL as rl_cid")
    ad_id: EntityId
    adset_id: EntityId | None = None
    campaign_id: EntityId | None = None
    fbclid: str | None = Field(default=None, max_length=500)
    utm: Utm = Field(default_factory=Utm)
    ip_hash: Hash | None = None
    user_agent_hash: Hash | None = None
    email_hash: Hash | None = None
    device_id: str | None = Field(default=None, max_length=200)
    referrer: str | None = Field(default=None, max_length=2000)
    landing_url: str | None = Field(default=None, max_length=4000)


class ContactSignals(_Part):
    """What the CRM knows that can tie a deal back to a click (all identifiers hashed)."""

    contact_id: str | None = None
    click_id: str | None = Field(default=None, description="rl_cid captured on the landing page")
    fbclid: str | None = None
    utm_ad_id: str | None = None
    email_hash: Hash | None = None
    device_id: str | None = None
    ip_hash: Hash | None = None
    user_agent_hash: Hash | None = None


class DealStageChanged(Envelope):
    """A CRM deal moved to a pipeline stage (``crm.deal-stage.v1``)."""

    event_type: Literal["DealStageChanged"] = "DealStageChanged"
    deal_id: EntityId
    pipeline_id: str = "default"
    stage_id: str = Field(min_length=1, max_length=200, description="CRM stage id, e.g. HubSpot's")
    previous_stage_id: str | None = None
    amount: Money | None = Field(default=None, description="Deal amount when the CRM has one")
    contact: ContactSignals = Field(default_factory=ContactSignals)
    source: Literal["hubspot", "producer", "sandbox"] = "producer"


AttributionMethod = Literal["url", "fingerprint", "probabilistic", "none"]
MatchedOn = Literal["click_id", "fbclid", "utm_ad_id", "email", "device_id", "ip_user_agent", "none"]


class ConversionAttributed(Envelope):
    """A deal stage change with the click it was attributed to (``conversions.attributed.v1``).

    ``method='none'`` marks an unattributed deal: the ad fields are then empty and confidence 0.
    """

    SCHEMA_RULES = ({
        "if": {"properties": {"method": {"const": "none"}}},
        "then": {"properties": {"confidence": {"const": 0}, "ad_id": {"type": "null"}}},
        "else": {"required": ["ad_id", "adset_id", "campaign_id"],
                 "properties": {"confidence": {"exclusiveMinimum": 0}, "ad_id": {"type": "string"},
                                "adset_id": {"type": "string"}, "campaign_id": {"type": "string"}}},
    },)
    event_type: Literal["ConversionAttributed"] = "ConversionAttributed"
    deal_id: EntityId
    stage_event_id: str = Field(description="event_id of the DealStageChanged this carries")
    stage_id: str
    pipeline_id: str = "default"
    amount: Money | None = None
    method: AttributionMethod
    matched_on: MatchedOn = "none"
    confidence: Confidence
    click_id: str | None = None
    ad_id: EntityId | None = None
    adset_id: EntityId | None = None
    campaign_id: EntityId | None = None
    group_id: EntityId | None = None
    click_occurred_at: Timestamp | None = None
    latency_seconds: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _attributed_means_an_ad(self) -> Self:
        if self.method == "none":
            if self.confidence != 0 or self.ad_id is not None:
                raise ValueError("method 'none' carries no ad and confidence 0")
        elif not (self.ad_id and self.adset_id and self.campaign_id and self.confidence > 0):
            raise ValueError(f"method {self.method!r} needs ad_id, adset_id, campaign_id, confidence > 0")
        return self


class RevenueRecognized(Envelope):
    """Pipeline value credited to an ad set for a deal's stage change (``revenue.v1``).

    ``amount`` is the *change* this event makes to the deal's credited total: positive for
    synthetic (stage value) credit, either sign for ``actual`` (closed-won amount replacing the
    estimate), negative for ``reversal`` (closed-lost). Summing ``amount`` over a deal's events
    gives ``credited_total_minor``.
    """

    SCHEMA_RULES = (
        {"if": {"properties": {"kind": {"const": "synthetic"}}},
         "then": {"properties": {"amount": {"properties": {"amount_minor": {"minimum": 0}}}}}},
        {"if": {"properties": {"kind": {"const": "reversal"}}},
         "then": {"properties": {"amount": {"properties": {"amount_minor": {"maximum": 0}}}}}},
    )
    event_type: Literal["RevenueRecognized"] = "RevenueRecognized"
    deal_id: EntityId
    group_id: EntityId
    campaign_id: EntityId
    adset_id: EntityId
    ad_id: EntityId
    kind: Literal["synthetic", "actual", "reversal"]
    amount: SignedMoney
    credited_total_minor: MinorUnits
    stage_id: str
    confidence: Confidence
    conversion_event_id: str
    click_occurred_at: Timestamp | None = None

    @model_validator(mode="after")
    def _sign_matches_kind(self) -> Self:
        if self.kind == "synthetic" and self.amount.amount_minor < 0:
            raise ValueError("synthetic revenue cannot be negative")
        if self.kind == "reversal" and self.amount.amount_minor > 0:
            raise ValueError("a reversal cannot be positive")
        return self


class SpendReported(Envelope):
    """An entity's spend and delivery for one day, as the platform reports it (``spend.v1``).

    A snapshot, not an increment: a later report for the same ``(entity_id, day)`` replaces the
    earlier one, so re-polling a window never double-counts spend.
    """

    event_type: Literal["SpendReported"] = "SpendReported"
    group_id: EntityId
    campaign_id: EntityId
    entity_id: EntityId
    entity_level: EntityLevel = "adset"
    account_id: str | None = None
    day: date
    spend: Money
    impressions: Count
    clicks: Count
    platform_results: dict[str, Count] = Field(default_factory=dict, description="Meta actions by type")
    daily_budget_minor: MinorUnits | None = None

    @property
    def leads(self) -> int:
        """The platform's results that are leads: the cold-start prior's deal-rate signal.

        ``platform_results`` also holds link clicks, landing-page views, ...: summing them would
        take every click for a lead. Meta reports one lead under several lead action types at
        once, so the largest of them is the count, not their sum.
        """
        return max((int(v) for k, v in self.platform_results.items() if k in LEAD_ACTIONS), default=0)


LEAD_ACTIONS = ("lead", "onsite_conversion.lead_grouped", "offsite_conversion.fb_pixel_lead")
"""Meta action types that count a lead."""


class EntityAllocation(_Part):
    entity_id: EntityId
    share: float = Field(ge=0.0, le=1.0, description="Propensity: probability this entity is best")
    budget_minor: MinorUnits
    previous_budget_minor: MinorUnits | None = None
    posterior_mean: float | None = None
    posterior_low: float | None = Field(default=None, description="5th percentile of the pipeline-ROAS posterior")
    posterior_high: float | None = Field(default=None, description="95th percentile")
    posterior_median: float | None = None
    posterior_p10: float | None = Field(default=None, description="10th percentile: with p90, the 80% interval")
    posterior_p90: float | None = None
    prior_version: Count | None = Field(default=None, description="Version of the tenant's cold-start priors used")
    prior_mean_roas: float | None = Field(default=None, ge=0, description="The cold-start prior's pipeline ROAS")
    prior_strength_minor: MinorUnits | None = Field(default=None, description="Its strength, in pseudo-spend")
    prior_source: str | None = Field(default=None, max_length=40, description="ctr, winners or ctr+winners")
    prior_winners: Count | None = Field(default=None, description="Similar past winners it drew on")


class EvidenceMark(_Part):
    """How far into one partition a decision's evidence reached: offsets below ``next_offset``."""

    topic: str = Field(description="Catalog topic name, without a deployment prefix (e.g. revenue.v1)")
    partition: Count
    next_offset: Count


# --- stop-loss proposals (issue 22) ---------------------------------------------------------
MAX_STATUS_PROPOSALS = 500
"""At most this many status proposals per decision (a group's ad sets; bounds a message's size)."""


class StatusProposal(_Part):
    """The sampler proposes pausing or resuming an ad set, with its reason (``streams.sampler.stoploss``).

    A proposal, not a request: nothing acts on it on Meta until status changes go through the
    executor's audited path."""

    entity_id: EntityId
    action: Literal["pause", "resume"]
    probability_below_break_even: float = Field(ge=0.0, le=1.0,
                                                description="Posterior probability that pipeline ROAS < break-even")
    break_even_roas: float = Field(ge=0.0, le=1000.0, description="The break-even pipeline ROAS judged against")
    spend_minor: MinorUnits = Field(description="The ad set's spend over the sampler's retained days")
    age_days: Annotated[int, Field(ge=0, le=100_000), WholeNumber] = Field(
        description="Whole days since the ad set's first retained day of spend")
    reason: str = Field(default="", max_length=500)


class AllocationDecided(Envelope):
    """The sampler's allocation of one group's budget (``decisions.v1``).

    ``shares`` are the propensities used: they make off-policy evaluation possible. Two rules JSON
    Schema cannot state are the decoder's alone: the shares sum to 1 (within 1e-6), and no entity
    appears twice in ``allocations``. ``evidence``
    says exactly which facts the decision saw (for each partition the group's facts came from, every
    record below ``next_offset``), so a replay can rebuild the same state however far the live
    sampler lagged behind the topics; empty when unknown (older logs, simulations).
    """

    event_type: Literal["AllocationDecided"] = "AllocationDecided"
    decision_id: EntityId
    group_id: EntityId
    campaign_id: EntityId
    entity_level: EntityLevel = "adset"
    policy: str
    seed: Int64 | None = None
    total_budget: Money
    allocations: list[EntityAllocation] = Field(min_length=1)
    paused: bool = False
    reason: str = ""
    evidence: list[EvidenceMark] = Field(default_factory=list)
    settings_digest: str | None = Field(default=None, description="Fingerprint of the sampler settings used")
    status_proposals: list[StatusProposal] = Field(
        default_factory=list, max_length=MAX_STATUS_PROPOSALS,
        description="Stop-loss proposals to pause or resume ad sets (proposals only, not executed)")

    @model_validator(mode="after")
    def _shares_form_a_distribution(self) -> Self:
        total = sum(a.share for a in self.allocations)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"allocation shares must sum to 1, got {total:.6f}")
        ids = [a.entity_id for a in self.allocations]
        if len(set(ids)) != len(ids):
            raise ValueError("an entity appears twice in allocations")
        return self


class BudgetChangeRequested(Envelope):
    """A request to set an entity's daily budget (``budget.requests.v1``)."""

    event_type: Literal["BudgetChangeRequested"] = "BudgetChangeRequested"
    change_id: EntityId = Field(description="Unique per change: the executor applies it at most once")
    group_id: EntityId
    campaign_id: EntityId
    entity_id: EntityId
    entity_level: EntityLevel = "adset"
    requested_budget: Money
    previous_budget_minor: MinorUnits | None = None
    source: Literal["sampler", "operator"] = "sampler"
    requested_by: str | None = Field(default=None, description="Operator token subject, if manual")
    decision_id: str | None = None
    reason: str = ""


class GuardrailResult(_Part):
    name: str
    passed: bool
    detail: str = ""
    limit: float | None = None
    observed: float | None = None


SettlementOutcome = Literal["completed", "clamped", "blocked", "superseded", "failed", "dry_run", "shadow",
                            "rejected", "expired", "awaiting_approval"]
"""``awaiting_approval`` is the one outcome that is not final: the change waits for a person, and
its final outcome (completed, clamped, blocked, rejected, expired, superseded, ...) follows."""
PENDING_OUTCOMES = frozenset({"awaiting_approval"})


class BudgetChangeReviewed(Envelope):
    """A person's verdict on a change waiting for approval (``budget.reviews.v1``).

    Published by the operator API; the executor that owns the change's allocation group applies
    it - an approved change then passes the guardrails as if it had just been requested."""

    event_type: Literal["BudgetChangeReviewed"] = "BudgetChangeReviewed"
    change_id: EntityId
    group_id: EntityId
    campaign_id: EntityId
    entity_id: EntityId
    verdict: Literal["approve", "reject"]
    reviewed_by: str = Field(min_length=1, max_length=128, description="Operator token subject")
    reason: str = Field(default="", max_length=500)


class BudgetChangeSettled(Envelope):
    """What became of a budget change request (``budget.outcomes.v1``)."""

    SCHEMA_RULES = ({
        "if": {"properties": {"outcome": {"enum": ["completed", "clamped"]}}},
        "then": {"required": ["applied_budget_minor"], "properties": {"applied_budget_minor": {"type": "integer"}}},
    },)
    event_type: Literal["BudgetChangeSettled"] = "BudgetChangeSettled"
    change_id: EntityId
    group_id: EntityId
    campaign_id: EntityId
    entity_id: EntityId
    entity_level: EntityLevel = "adset"
    outcome: SettlementOutcome
    currency: CurrencyCode
    requested_budget_minor: MinorUnits
    previous_budget_minor: MinorUnits | None = None
    applied_budget_minor: MinorUnits | None = None
    guardrails: list[GuardrailResult] = Field(default_factory=list)
    attempts: Count = 0
    error: str | None = None
    platform_response: dict[str, object] | None = None
    reviewed_by: str | None = Field(default=None, description="Who approved or rejected it, if a person did")

    @property
    def final(self) -> bool:
        return self.outcome not in PENDING_OUTCOMES

    @model_validator(mode="after")
    def _applied_when_applied(self) -> Self:
        if self.outcome in ("completed", "clamped") and self.applied_budget_minor is None:
            raise ValueError(f"outcome {self.outcome!r} needs applied_budget_minor")
        return self


AlertNoticeKind = Literal["raised", "reminder", "resolved"]
Severity = Literal["info", "warning", "critical"]
FactValue = str | int | float | bool | None


class AlertNotified(Envelope):
    """A moment in an alert's life that people are told about (``alerts.v1``).

    ``alert_id`` is stable per condition - one tenant, one rule, one subject (a campaign, an ad set,
    a consumer group, a topic) - so a condition that holds for hours is one alert: ``raised`` once,
    a ``reminder`` only after the cooldown, ``resolved`` when it clears. ``episode`` counts how often
    the same condition came back. ``event_id`` is ``alert-<alert_id>-<n>`` for the alert's n-th
    notice, so a republish after a crash carries the same id. Facts are numbers and ids, never a
    secret or a person's data.
    """

    event_type: Literal["AlertNotified"] = "AlertNotified"
    alert_id: EntityId
    rule: str = Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z_]*$")
    subject: str = Field(max_length=200)
    notice: AlertNoticeKind
    severity: Severity
    episode: Ordinal
    title: str = Field(min_length=1, max_length=300)
    detail: str = Field(default="", max_length=4000)
    facts: dict[str, FactValue] = Field(default_factory=dict)
    raised_at: Timestamp = Field(description="When this episode of the condition began")


__all__ = [
    "AdClicked",
    "AlertNotified",
    "AllocationDecided",
    "BudgetChangeRequested",
    "BudgetChangeReviewed",
    "BudgetChangeSettled",
    "ContactSignals",
    "ConversionAttributed",
    "CurrencyCode",
    "DealStageChanged",
    "EntityAllocation",
    "GuardrailResult",
    "RevenueRecognized",
    "SpendReported",
    "Utm",
]


class CreativeDescribed(Envelope):
    """An ad set's creative and targeting as the priors see them (``creatives.v1``).

    Published when an ad set is created through roasloop or first discovered by the insights
    poller, and again when its description changes. ``embedding`` comes from ``embedder`` (a name
    that says what produced it, e.g. ``hashed-ngram/v1:64``): vectors of different embedders are
    not comparable, so the winner index only compares like with like.
    """

    event_type: Literal["CreativeDescribed"] = "CreativeDescribed"
    group_id: EntityId
    campaign_id: EntityId
    entity_id: EntityId = Field(description="The ad set (allocation entity) the creative belongs to")
    ad_id: EntityId | None = None
    features: CreativeFeatures
    embedder: str = Field(min_length=1, max_length=100)
    embedding: list[float] = Field(min_length=1, max_length=MAX_EMBEDDING_DIM)
