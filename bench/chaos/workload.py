"""The chaos run's fixed workload, and what a fault-free system must make of it.

Clicks carry roasloop click ids (and a unique hashed email); each deal's stage changes point at
one click, by click id (confidence 1.0) or by email only (fingerprint, 0.9). Stage paths mix
lead, appointment, closed-won (with and without an amount, HubSpot ids and canonical names) and
closed-lost; some deals' events are published out of event-time order and a few events twice
(same ``event_id``, as a retrying producer would). Spend snapshots name every ad set with its
budget, so the sampler has entities to allocate and the executor budgets to change.

The expected credited total per deal comes from the revenue stage's own pure valuation,
applied to the deal's events in event-time order: the valuation is order-independent by design
(levels, not sums; stale closes ignored), so this is what any correct delivery order yields.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from schemas.events import AdClicked, ContactSignals, DealStageChanged, SpendReported
from schemas.money import Money
from schemas.pipeline import StageValues, canonical_stage
from streams.revenue import valuation
from streams.revenue.valuation import DealState

CURRENCY = "USD"
START_BUDGET_MINOR = 10_000
STAGE_PATHS: list[tuple[float, list[str]]] = [
    (0.30, ["lead"]),
    (0.15, ["lead", "appointment"]),
    (0.10, ["appointmentscheduled", "presentationscheduled"]),
    (0.20, ["lead", "appointment", "closedwon"]),
    (0.05, ["appointment", "won"]),
    (0.15, ["lead", "closedlost"]),
    (0.05, ["lead", "appointment", "closedlost", "closedwon"]),  # reopened and won after all
]


@dataclass(frozen=True)
class AdSet:
    tenant_id: str
    campaign_id: str
    adset_id: str
    ad_ids: tuple[str, ...]


@dataclass
class Workload:
    run: str
    adsets: list[AdSet]
    clicks: list[AdClicked]
    deal_events: list[DealStageChanged]
    """In publish order, with the deliberate duplicates."""
    spend: list[SpendReported]
    expected_credit: dict[tuple[str, str], int] = field(default_factory=dict)
    confidence: dict[tuple[str, str], float] = field(default_factory=dict)

    @property
    def distinct_clicks(self) -> set[tuple[str, str]]:
        return {(c.tenant_id, c.click_id) for c in self.clicks}

    @property
    def distinct_stage_events(self) -> int:
        return len({e.event_id for e in self.deal_events})


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _structure(run: str, tenants: int, campaigns: int, adsets: int, ads: int) -> list[AdSet]:
    return [
        AdSet(f"t{t}", f"{run}-c{t}-{c}", f"{run}-s{t}-{c}-{s}",
              tuple(f"{run}-a{t}-{c}-{s}-{a}" for a in range(ads)))
        for t in range(tenants) for c in range(campaigns) for s in range(adsets)
    ]


def spend_snapshots(run: str, adsets: list[AdSet], now: datetime, round_no: int,
                    budgets: dict[str, int] | None = None) -> list[SpendReported]:
    """One snapshot per ad set for today (a later round replaces the day's numbers)."""
    out = []
    for s in adsets:
        spent = 1_000 * (round_no + 1) + (hash(s.adset_id) % 500)
        out.append(SpendReported(
            event_id=f"{run}-sp{round_no}-{s.adset_id}", tenant_id=s.tenant_id, occurred_at=now,
            group_id=s.campaign_id, campaign_id=s.campaign_id, entity_id=s.adset_id, day=now.date(),
            spend=Money(amount_minor=spent, currency=CURRENCY), impressions=100 * spent // 100,
            clicks=spent // 50, daily_budget_minor=(budgets or {}).get(s.adset_id, START_BUDGET_MINOR),
        ))
    return out


def _path(rng: random.Random) -> list[str]:
    x, acc = rng.random(), 0.0
    for weight, path in STAGE_PATHS:
        acc += weight
        if x < acc:
            return path
    return STAGE_PATHS[-1][1]


def expected_total(events: list[DealStageChanged], confidence: float, values: StageValues) -> int:
    state = DealState()
    for event in sorted(events, key=lambda e: (e.occurred_at, e.event_id)):
        stage = canonical_stage(event.stage_id)
        if stage is None:
            continue
        amount = event.amount.amount_minor if event.amount and event.amount.currency == values.currency else None
        state, _ = valuation.apply(state, stage, values, confidence, amount, event.occurred_at)
    return state.credited_minor


def build(run: str, n_clicks: int, n_deals: int, seed: int, now: datetime | None = None,
          tenants: int = 4, campaigns: int = 3, adsets: int = 4, ads: int = 2) -> Workload:
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    structure = _structure(run, tenants, campaigns, adsets, ads)
    clicks: list[AdClicked] = []
    for i in range(n_clicks):
        s = structure[rng.randrange(len(structure))]
        at = now - timedelta(seconds=rng.uniform(14 * 3600, 3 * 86_400))
        clicks.append(AdClicked(
            event_id=f"{run}-k{i}", tenant_id=s.tenant_id, occurred_at=at, produced_at=at,
            click_id=f"rl-{run}-{i}", ad_id=rng.choice(s.ad_ids), adset_id=s.adset_id, campaign_id=s.campaign_id,
            email_hash=_hash(f"{run}-mail-{i}"),
        ))
    published_clicks = list(clicks) + [clicks[rng.randrange(n_clicks)] for _ in range(n_clicks // 100)]
    rng.shuffle(published_clicks)

    values = StageValues.defaults(CURRENCY)
    work = Workload(run=run, adsets=structure, clicks=published_clicks, deal_events=[],
                    spend=spend_snapshots(run, structure, now, 0))
    per_deal: list[list[DealStageChanged]] = []
    for j in range(n_deals):
        click = clicks[rng.randrange(n_clicks)]
        by_email = rng.random() < 0.2
        signals = ContactSignals(email_hash=click.email_hash) if by_email else ContactSignals(click_id=click.click_id)
        deal_id = f"{run}-d{j}"
        at = click.occurred_at + timedelta(seconds=rng.uniform(300, 3600))
        events: list[DealStageChanged] = []
        previous: str | None = None
        for k, stage_id in enumerate(_path(rng)):
            amount = None
            if stage_id in ("closedwon", "won") and rng.random() < 0.5:
                amount = Money(amount_minor=rng.randrange(100_000, 2_000_000), currency=CURRENCY)
            events.append(DealStageChanged(
                event_id=f"{run}-d{j}-e{k}", tenant_id=click.tenant_id, occurred_at=at, produced_at=at,
                deal_id=deal_id, stage_id=stage_id, previous_stage_id=previous, amount=amount,
                contact=signals if k == 0 or rng.random() < 0.5 else ContactSignals(),
            ))
            previous = stage_id
            at += timedelta(seconds=rng.uniform(600, 6 * 3600))
        key = (click.tenant_id, deal_id)
        work.confidence[key] = 0.9 if by_email else 1.0
        work.expected_credit[key] = expected_total(events, work.confidence[key], values)
        published = list(events)
        if len(published) > 1 and rng.random() < 0.15:
            rng.shuffle(published)  # out of event-time order
        if rng.random() < 0.03:
            published.append(published[rng.randrange(len(published))])  # a producer's retry
        per_deal.append(published)
    # interleave deals, keeping each deal's own publish order
    cursors = [0] * len(per_deal)
    live = list(range(len(per_deal)))
    while live:
        pick = rng.randrange(len(live))
        d = live[pick]
        work.deal_events.append(per_deal[d][cursors[d]])
        cursors[d] += 1
        if cursors[d] == len(per_deal[d]):
            live[pick] = live[-1]
            live.pop()
    return work
