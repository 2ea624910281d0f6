"""One allocation group's facts, as the sampler keeps them: per entity and day, plus delay lags.

The facts are what the events said, aggregated only as far as the events allow without loss:

- ``spend.v1`` is a per-(entity, day) *snapshot*: a later report replaces the earlier one, so
  re-polling never double-counts spend;
- ``revenue.v1`` carries signed *deltas* per deal: they are summed into the cohort of the day of
  the click that earned them (so a cohort's revenue can be compared with that day's spend), and
  into the group's lag histogram (click-to-credit delay) that the development curve is fitted on.

The posterior is a pure function of these facts and "now" (forgetting and development both depend
on age), so the same facts give the same posterior in the live stage, in simulation and in a
replay. Cohorts are read in date order, so floating-point sums do not depend on the order in which
rows came back from PostgreSQL or events arrived. PostgreSQL holds the same rows
(``sampler_entity_days``, ``sampler_delay_lags``); this is their in-memory form.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import numpy as np

from streams.priors.source import Prior as SourcePrior
from streams.sampler.coldstart import PriorConfig, blend
from streams.sampler.delays import DelayModel
from streams.sampler.inflight import DealCredit, DealRecord, eventual_values
from streams.sampler.model import Evidence, Posterior, decay_weights, dispersion, update
from streams.sampler.response import ResponseCurves, fit

DAY = 86_400.0


@dataclass(frozen=True)
class ModelConfig:
    """The model's and the allocation's knobs. These defaults are the only ones: the live
    ``SamplerSettings`` takes its defaults from here and builds one with ``model()``, and
    ``roasloop simulate`` runs the same, so the README table measures what runs live."""

    half_life_days: float = 14.0
    """Forgetting of deal-rate evidence: creatives fatigue, audiences saturate, rates drift."""
    value_half_life_days: float = 60.0
    """Forgetting of value-per-deal evidence. Deal sizes belong to the audience and change slowly,
    and big deals are rare: forgetting them as fast as rates would throw away the heavy tail."""
    horizon_days: int = 45
    delay_prior_mean_days: float = 7.0
    prior: PriorConfig = field(default_factory=PriorConfig)
    prior_shape: float = 2.0
    """Shape of the prior when no credit has been seen anywhere (how diffuse a cold start is)."""
    entity_ttl_days: int = 3
    """An entity without a spend report for this long has left the group (paused, deleted)."""
    spend_response: bool = True
    """Allocate for diminishing returns (:mod:`streams.sampler.response`); False: plain P(best)."""
    saturation_prior_sd: float = 0.3
    """Prior spread of the rise in cost per click per fair share of spend, around the group's."""
    draws: int = 2000
    """Monte Carlo draws per decision."""
    floor_share: float = 0.05
    """Exploration floor: each entity gets at least this fraction of an equal split."""
    cap_share: float = 1.0
    """Largest fraction of the group total one entity may take."""
    change_cost_days: float = 0.25
    """What one budget change costs, in days of the changed budget's value at the group's ROAS: a
    large edit can send a Meta ad set back into its learning phase, and every change spends the
    4-an-hour allowance. Moves are made only when their expected gain exceeds this (0: always)."""
    change_horizon_days: float = 14.0
    """How long a move's expected gain is counted over when weighed against its cost."""
    change_confidence: float = 0.8
    """Posterior probability with which a move's gain must beat its cost."""
    value_in_flight: bool = True
    """Value per deal from each deal's eventual value - resolved, or expected given its stage and
    age while open (:mod:`streams.sampler.inflight`) - instead of its credits so far developed by
    the group's curve. Needs the revenue events' deal ids; groups without them use the curve."""
    in_flight_lookahead_days: float = 21.0
    """How long an open deal's peers must have been watched since its age to say what it becomes:
    about a B2B pipeline's length (lead to close); a deal without such peers keeps its credit."""


@dataclass(slots=True)
class DayFacts:
    """One entity's facts for one day. Slotted: the sampler keeps millions of these in memory."""

    spend_minor: int = 0
    clicks: int = 0
    impressions: int = 0
    results: int = 0
    deals: int = 0
    revenue_minor: int = 0
    jump_abs: int = 0
    jump_sq: float = 0.0


@dataclass(slots=True)
class EntityInfo:
    entity_id: str
    campaign_id: str
    min_budget_minor: int = 100
    daily_budget_minor: int | None = None
    last_report_day: date | None = None


def age_days(now: datetime, moment: datetime) -> float:
    return (now - moment).total_seconds() / DAY


def cohort_age_days(now: datetime, day: date) -> float:
    """Age of a day's spend cohort at ``now``: from the middle of the part of the day gone by.

    A finished day's spend is half a day old at its end; today's spend so far has been spent
    since midnight, so at 06:00 it is three hours old on average - not minus six (from noon), which
    would count today's spend as undeveloped while its deals are already in (delays of hours)."""
    start = datetime.combine(day, time(0), tzinfo=UTC)
    elapsed = min(max((now - start).total_seconds(), 0.0), DAY)
    return max(age_days(now, start) - elapsed / 2 / DAY, 0.0)


@dataclass
class GroupState:
    tenant_id: str
    group_id: str
    currency: str = "USD"
    total_budget_minor: int | None = None
    entities: dict[str, EntityInfo] = field(default_factory=dict)
    days: dict[str, dict[date, DayFacts]] = field(default_factory=dict)
    delays: DelayModel = field(default_factory=DelayModel)
    """Value credited per click-to-credit lag (the value development curve)."""
    deal_delays: DelayModel = field(default_factory=lambda: DelayModel(prior_mean_days=1.0))
    """New deals per click-to-first-credit lag (the deal-arrival curve)."""
    new_entity_min_budget_minor: int = 100
    """The minimum budget an entity gets when a fact first names it (the platform's minimum)."""
    deals: dict[str, DealRecord] = field(default_factory=dict)
    """Every deal the revenue events named, open or resolved (value in flight)."""

    @classmethod
    def for_model(cls, tenant_id: str, group_id: str, config: ModelConfig, currency: str = "USD",
                  total_budget_minor: int | None = None, new_entity_min_budget_minor: int = 100) -> GroupState:
        """An empty group whose delay curves start from ``config``'s priors (live, simulated, replayed alike)."""
        return cls(tenant_id, group_id, currency, total_budget_minor,
                   delays=DelayModel(config.horizon_days, config.delay_prior_mean_days),
                   deal_delays=DelayModel(config.horizon_days, prior_mean_days=1.0),
                   new_entity_min_budget_minor=new_entity_min_budget_minor)

    # -- facts in ---------------------------------------------------------------------------
    def entity(self, entity_id: str, campaign_id: str) -> EntityInfo:
        info = self.entities.get(entity_id)
        if info is None:
            info = self.entities[entity_id] = EntityInfo(entity_id, campaign_id, self.new_entity_min_budget_minor)
        return info

    def cell(self, entity_id: str, day: date) -> DayFacts:
        return self.days.setdefault(entity_id, {}).setdefault(day, DayFacts())

    def record_spend(self, entity_id: str, campaign_id: str, day: date, spend_minor: int, clicks: int,
                     impressions: int, results: int, daily_budget_minor: int | None) -> None:
        """Replace the (entity, day) snapshot."""
        info = self.entity(entity_id, campaign_id)
        if info.last_report_day is None or day >= info.last_report_day:
            info.last_report_day = day
            if daily_budget_minor is not None:
                info.daily_budget_minor = daily_budget_minor
        cell = self.cell(entity_id, day)
        cell.spend_minor, cell.clicks, cell.impressions, cell.results = spend_minor, clicks, impressions, results

    def record_revenue(self, entity_id: str, campaign_id: str, amount_minor: int, occurred_at: datetime,
                       click_at: datetime | None, new_deal: bool, deal: DealCredit | None = None) -> None:
        """Add a signed credit to the cohort of its click (or of its own day, when the click is unknown).

        ``new_deal``: this is the deal's first credit (its total was zero before), so it counts as
        a conversion. ``deal``: what the event says about its deal (id, kind, stage, total), kept
        so open deals can be told from resolved ones.
        """
        self.entity(entity_id, campaign_id)
        cohort_at = click_at or occurred_at
        cell = self.cell(entity_id, cohort_at.astimezone(UTC).date())
        cell.revenue_minor += amount_minor
        cell.jump_abs += abs(amount_minor)
        cell.jump_sq += float(amount_minor) ** 2
        lag = age_days(occurred_at, cohort_at)
        self.delays.observe(lag, amount_minor)
        if new_deal:
            cell.deals += 1
            self.deal_delays.observe(lag, 1)
        if deal is not None:
            record = self.deals.get(deal.deal_id)
            if record is None:
                record = self.deals[deal.deal_id] = DealRecord(entity_id, cohort_at)
            record.observe(deal, occurred_at)

    # -- facts out --------------------------------------------------------------------------
    def active_entities(self, today: date, ttl_days: int) -> list[str]:
        return sorted(
            e for e, info in self.entities.items()
            if info.last_report_day is not None and (today - info.last_report_day).days <= ttl_days
        )

    def evidence(self, entity_ids: Sequence[str], now: datetime, config: ModelConfig) -> Evidence:
        """Forgotten, delay-developed sufficient statistics of ``entity_ids`` as of ``now``."""
        rows: list[tuple[int, float, DayFacts]] = []
        for i, e in enumerate(entity_ids):
            for day, facts in sorted(self.days.get(e, {}).items()):
                rows.append((i, cohort_age_days(now, day), facts))
        k = len(entity_ids)
        if not rows:
            zero = np.zeros(k)
            return Evidence(zero, zero, zero, zero, zero, zero, zero, zero, zero)
        idx = np.array([r[0] for r in rows], dtype=np.int64)
        age = np.clip(np.array([r[1] for r in rows]), 0.0, None)
        f = [r[2] for r in rows]
        weight = decay_weights(age, config.half_life_days)
        value_weight = decay_weights(age, config.value_half_life_days)
        cohorts = self.group_cohorts(now)
        value_dev = self.delays.cdf(age, self.delays.increments(*cohorts))
        deal_dev = np.maximum(self.deal_delays.cdf(age, self.deal_delays.increments(*cohorts)), 1e-6)
        # share of a deal's eventual value credited by this age, given the deal exists
        maturity = np.clip(value_dev / deal_dev, 0.0, 1.0)

        def column(name: str) -> np.ndarray:
            return np.array([getattr(x, name) for x in f], dtype=np.float64)

        def total(values: np.ndarray, w: np.ndarray = weight) -> np.ndarray:
            return np.bincount(idx, weights=w * values, minlength=k)

        spend, deals = column("spend_minor"), column("deals")
        value_exposure = total(deals * maturity, value_weight)
        revenue = total(column("revenue_minor"), value_weight)
        jump_abs = total(column("jump_abs"), value_weight)
        jump_sq = total(column("jump_sq"), value_weight)
        if config.value_in_flight and self.deals:
            value_curve = self.delays.increments(*cohorts)
            deal_curve = self.deal_delays.increments(*cohorts)

            def developed(ages: np.ndarray) -> np.ndarray:
                return np.asarray(self.delays.cdf(ages, value_curve)
                                  / np.maximum(self.deal_delays.cdf(ages, deal_curve), 1e-6), dtype=np.float64)

            v = eventual_values(self.deals, entity_ids, now, config.horizon_days, config.prior.value_pseudo_deals,
                                config.in_flight_lookahead_days, developed)
            w = decay_weights(np.array([cohort_age_days(now, d) for d in v.cohort_days], dtype=np.float64),
                              config.value_half_life_days)
            value_exposure = np.bincount(v.index, weights=w, minlength=k)
            revenue = np.bincount(v.index, weights=w * v.value, minlength=k)
            jump_abs = np.bincount(v.index, weights=w * np.abs(v.value), minlength=k)
            jump_sq = np.bincount(v.index, weights=w * v.value_sq, minlength=k)
        return Evidence(
            deal_exposure=total(spend * deal_dev),
            deals=total(deals),
            value_exposure=value_exposure,
            revenue=revenue,
            jump_abs=jump_abs,
            jump_sq=jump_sq,
            spend=total(spend),
            clicks=total(column("clicks")),
            results=total(column("results")),
        )

    def response(self, entity_ids: Sequence[str], now: datetime, config: ModelConfig,
                 scale: float) -> ResponseCurves:
        """Every entity's spend-response curve from its daily spend and clicks (``scale``: fair share)."""
        idx, spend, clicks, age = [], [], [], []
        for i, e in enumerate(entity_ids):
            for day, facts in sorted(self.days.get(e, {}).items()):
                idx.append(i)
                spend.append(facts.spend_minor)
                clicks.append(facts.clicks)
                age.append(cohort_age_days(now, day))
        weight = decay_weights(np.array(age, dtype=np.float64), config.half_life_days)
        return fit(np.array(idx, dtype=np.int64), len(entity_ids), np.array(spend, dtype=np.float64),
                   np.array(clicks, dtype=np.float64), weight, max(scale, 1.0), config.saturation_prior_sd)

    def group_cohorts(self, now: datetime) -> tuple[np.ndarray, np.ndarray]:
        """Daily spend of the whole group and each day's age (for the development curve)."""
        by_day: dict[date, int] = {}
        for cells in self.days.values():
            for day, facts in cells.items():
                by_day[day] = by_day.get(day, 0) + facts.spend_minor
        days = sorted(by_day)
        spend = np.array([by_day[d] for d in days], dtype=np.float64)
        ages = np.array([cohort_age_days(now, d) for d in days], dtype=np.float64)
        return spend, ages

    def posterior(self, entity_ids: Sequence[str], now: datetime, config: ModelConfig,
                  external: Sequence[SourcePrior | None] | None = None) -> Posterior:
        evidence = self.evidence(entity_ids, now, config)
        total = self.total_budget_minor or sum(
            (self.entities[e].daily_budget_minor or 0) for e in entity_ids
        )
        fair = total / max(len(entity_ids), 1)
        prior = blend(evidence, fair, config.prior, external)
        scale = dispersion(evidence, max(prior.value_per_deal / config.prior_shape, 1.0))
        return update(tuple(entity_ids), evidence, prior.rate, scale, prior.value_per_deal,
                      config.prior.value_pseudo_deals)

    def prune(self, before: date) -> None:
        """Forget cohorts older than ``before`` (their weight has decayed to nothing)."""
        for cells in self.days.values():
            for day in [d for d in cells if d < before]:
                del cells[day]
        for deal_id in [i for i, d in self.deals.items() if d.cohort_day < before]:
            del self.deals[deal_id]


def retention_cutoff(now: datetime, config: ModelConfig) -> date:
    longest = max(config.half_life_days, config.value_half_life_days)
    keep = max(config.horizon_days, int(6 * longest) if np.isfinite(longest) else 3650)
    return (now - timedelta(days=keep)).date()
