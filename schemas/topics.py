"""The topic catalog: the one place that says what flows where.

Each topic has a name, the event model it carries, a default partition count and a key
function. Topics read together are co-partitioned - same key and same partition count - so one
consumer instance owns every event of a key across them (the sampler joins ``revenue.v1`` with
``spend.v1`` per allocation group).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from schemas.envelope import Envelope
from schemas.events import (
    AdClicked,
    AlertNotified,
    AllocationDecided,
    BudgetChangeRequested,
    BudgetChangeReviewed,
    BudgetChangeSettled,
    ConversionAttributed,
    CreativeDescribed,
    DealStageChanged,
    RevenueRecognized,
    SpendReported,
)
from schemas.launch import LaunchRequested, LaunchSettled

DLQ_SUFFIX = ".dlq"
GROUP_PARTITIONS = 12  # every topic keyed by tenant:group shares this count


@dataclass(frozen=True)
class Topic:
    name: str
    model: type[Envelope]
    partitions: int
    key_of: Callable[[Envelope], str]
    description: str
    retention_days: int = 30

    def key(self, event: Envelope) -> bytes:
        if not isinstance(event, self.model):
            raise TypeError(f"{self.name} carries {self.model.__name__}, not {type(event).__name__}")
        return self.key_of(event).encode()

    @property
    def dlq(self) -> str:
        return self.name + DLQ_SUFFIX


def by_tenant(event: Envelope) -> str:
    return event.tenant_id


def by_deal(event: Envelope) -> str:
    return f"{event.tenant_id}:{event.deal_id}"  # type: ignore[attr-defined]


def by_group(event: Envelope) -> str:
    """``tenant:group`` - the allocation group owns one budget and one writer."""
    return f"{event.tenant_id}:{event.group_id}"  # type: ignore[attr-defined]


def group_key(tenant_id: str, group_id: str) -> bytes:
    return f"{tenant_id}:{group_id}".encode()


CLICKS = Topic("clicks.v1", AdClicked, 6, by_tenant, "Ad clicks from the redirect and producers")
DEAL_STAGES = Topic("crm.deal-stage.v1", DealStageChanged, 12, by_deal, "CRM deal-stage changes")
CONVERSIONS = Topic(
    "conversions.attributed.v1", ConversionAttributed, 12, by_deal, "Stage changes with their click"
)
REVENUE = Topic("revenue.v1", RevenueRecognized, GROUP_PARTITIONS, by_group, "Pipeline value credited")
SPEND = Topic("spend.v1", SpendReported, GROUP_PARTITIONS, by_group, "Daily spend per entity")
DECISIONS = Topic(
    "decisions.v1", AllocationDecided, GROUP_PARTITIONS, by_group, "Allocations with propensities",
    retention_days=365,
)
BUDGET_REQUESTS = Topic(
    "budget.requests.v1", BudgetChangeRequested, GROUP_PARTITIONS, by_group, "Budget change requests"
)
BUDGET_REVIEWS = Topic(
    "budget.reviews.v1", BudgetChangeReviewed, GROUP_PARTITIONS, by_group,
    "Approvals and rejections of changes waiting for a person (co-partitioned with the requests)",
)
BUDGET_OUTCOMES = Topic(
    "budget.outcomes.v1", BudgetChangeSettled, GROUP_PARTITIONS, by_group, "Settled budget changes",
    retention_days=365,
)

ALERTS = Topic(
    "alerts.v1", AlertNotified, 6, by_tenant, "Alerts raised, reminded and resolved", retention_days=90,
)

LAUNCH_REQUESTS = Topic(
    "launch.requests.v1", LaunchRequested, 6, by_tenant,
    "Requests to create campaigns, ad sets and ads (keyed by tenant: a parent is created before its child)",
)
LAUNCH_OUTCOMES = Topic(
    "launch.outcomes.v1", LaunchSettled, 6, by_tenant, "What became of each launch request", retention_days=365,
)
CREATIVES = Topic(
    "creatives.v1", CreativeDescribed, GROUP_PARTITIONS, by_group,
    "Ad sets' creative features and embeddings, for the cold-start priors", retention_days=365,
)

CATALOG: tuple[Topic, ...] = (
    CLICKS, DEAL_STAGES, CONVERSIONS, REVENUE, SPEND, DECISIONS, BUDGET_REQUESTS, BUDGET_REVIEWS, BUDGET_OUTCOMES,
    ALERTS, LAUNCH_REQUESTS, LAUNCH_OUTCOMES, CREATIVES,
)
BY_NAME: dict[str, Topic] = {t.name: t for t in CATALOG}
BY_MODEL: dict[type[Envelope], Topic] = {t.model: t for t in CATALOG}


def topic_for(event: Envelope) -> Topic:
    return BY_MODEL[type(event)]


