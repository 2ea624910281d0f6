"""A simulated ad market with known ground truth: what roasloop learns from in tests and `dev`.

Usage::

    market = Market.from_scenario("basic", seed=7)        # a name in scenarios/, a path, or a Scenario
    ents = market.entities()                              # groups > campaigns > ad sets > ads
    market.set_budget(adset_id, 12_000)                   # or market.attach_meta(meta_state)
    day = market.step()                                   # one simulated day -> DayOutcome
    truth = market.truth()                                # true pipeline ROAS per ad set
    split = market.oracle_allocation(group_id)            # best budget split for the group total

Budgets come from ``set_budget`` or, once :meth:`Market.attach_meta` is called, from the Meta
stand-in's state (so budget changes made through the Graph API drive spend); each step then also
writes Meta insights rows. Same scenario + seed + budgets -> the very same outcomes.
Turning outcomes into events and webhooks: :mod:`streams.lab.sandbox.market_events`.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from streams.lab.sandbox.market_creative import AdSetCreative, CreativeEffect, creatives_for
from streams.lab.sandbox.market_funnel import AdSetContext, rng_for, simulate_adset_day
from streams.lab.sandbox.market_scenario import AdSetSpec, Scenario
from streams.lab.sandbox.market_truth import (
    AdSetTruth,
    adset_truth,
    drift_at,
    expected_group_value,
    oracle_allocation,
    stage_values_minor,
)
from streams.lab.sandbox.market_types import (
    ALL_STAGES,
    AdEntity,
    AdSetDay,
    AdSetEntity,
    CampaignEntity,
    ClickRecord,
    ContactRecord,
    DayOutcome,
    GroupEntity,
    MarketEntities,
    StageChange,
)
from streams.lab.sandbox.meta_insights import split_delivery
from streams.lab.sandbox.meta_state import MetaState


@dataclass(frozen=True)
class MarketTruth:
    """Ground truth on one day. ``stage_values_minor`` is the valuation the ROAS figures use."""

    day_index: int
    currency: str
    stage_values_minor: Mapping[str, int]
    adsets: Mapping[str, AdSetTruth]

    def best_adset(self, group_id: str) -> str:
        cands = [t for t in self.adsets.values() if t.group_id == group_id and t.active]
        return max(cands, key=lambda t: (t.pipeline_roas, t.adset_id)).adset_id


class Market:
    """The simulated market. Not thread-safe: one driver calls :meth:`step`."""

    def __init__(self, scenario: Scenario, seed: int) -> None:
        self.scenario = scenario
        self.seed = seed
        self.day_index = 0
        self._meta: MetaState | None = None
        self._pending: list[tuple[datetime, str, int, ContactRecord | StageChange]] = []
        self._contexts: list[AdSetContext] = []
        self._groups: list[tuple[str, str, int, list[AdSetContext]]] = []  # (group_id, name, total, ad sets)
        self._creatives: dict[str, tuple[AdSetCreative, CreativeEffect]] = {}
        specs = [a for g in scenario.groups for a in g.adsets]
        made = creatives_for(scenario.creatives, seed, specs) if scenario.creatives else None
        index = 0
        for gi, g in enumerate(scenario.groups):
            campaign_id = g.campaign_id or str(238_500_000_000 + gi + 1)
            members = []
            for k, spec in enumerate(g.adsets):
                adset_id = spec.adset_id or str(238_600_000_000 + (gi + 1) * 10_000 + k + 1)
                if made is not None:  # the creative changes the ad set's true rates
                    spec, creative, effect = made[index]
                    self._creatives[adset_id] = (creative, effect)
                ctx = AdSetContext(index, adset_id, campaign_id, campaign_id, spec)
                self._contexts.append(ctx)
                members.append(ctx)
                index += 1
            self._groups.append((campaign_id, g.name, g.total_budget_minor, members))
        self._by_id = {c.adset_id: c for c in self._contexts}
        self._budgets: dict[str, int] = {}
        for _, _, total, members in self._groups:
            share = total // len(members)
            for c in members:
                self._budgets[c.adset_id] = c.spec.initial_budget_minor or max(share, c.spec.min_budget_minor)

    @classmethod
    def from_scenario(cls, scenario: str | Path | Scenario, seed: int) -> Market:
        """Build from a Scenario, a JSON path, or the name of a file in ``streams/lab/sandbox/scenarios``."""
        if not isinstance(scenario, Scenario):
            scenario = Scenario.load(scenario)
        return cls(scenario, seed)

    # -- structure --------------------------------------------------------------------------
    def day_start(self, day_index: int | None = None) -> datetime:
        d = self.scenario.start_date + timedelta(days=self.day_index if day_index is None else day_index)
        return datetime.combine(d, time(0), tzinfo=UTC)

    @property
    def today(self) -> date:
        """The date the next :meth:`step` simulates."""
        return self.scenario.start_date + timedelta(days=self.day_index)

    def ads_of(self, adset_id: str, day_index: int | None = None) -> tuple[tuple[AdEntity, float], ...]:
        """Ads of an ad set launched by ``day_index`` (default: today) with their CTR weights."""
        ctx = self._by_id[adset_id]
        spec = ctx.spec
        day = self.day_index if day_index is None else day_index
        out = []
        j = 0
        while True:
            launch = spec.launch_day
            if j >= spec.ads:
                if spec.new_ad_every_days is None:
                    break
                launch += (j - spec.ads + 1) * spec.new_ad_every_days
            if launch > max(day, spec.launch_day):
                break
            weight = float(rng_for(self.seed, 1_000_000 + ctx.index, j).lognormal(0.0, 0.3))
            ad = AdEntity(f"{adset_id}{j + 1:04d}", adset_id, ctx.campaign_id, f"{spec.name} ad {j + 1}", launch)
            out.append((ad, weight))
            j += 1
        return tuple(out)

    def entities(self, day_index: int | None = None) -> MarketEntities:
        """The tenant's ad hierarchy (ads launched by ``day_index``, default today)."""
        groups = []
        for group_id, name, total, members in self._groups:
            adsets = tuple(
                AdSetEntity(
                    adset_id=c.adset_id,
                    campaign_id=c.campaign_id,
                    group_id=group_id,
                    name=c.spec.name,
                    min_budget_minor=c.spec.min_budget_minor,
                    initial_budget_minor=self._initial_budget(c),
                    launch_day=c.spec.launch_day,
                    ads=tuple(ad for ad, _ in self.ads_of(c.adset_id, day_index)),
                )
                for c in members
            )
            campaign = CampaignEntity(group_id, name, adsets)
            groups.append(GroupEntity(group_id, name, "adset", total, (campaign,)))
        s = self.scenario
        return MarketEntities(s.tenant_id, s.currency, s.account_id, s.portal_id, s.start_date, tuple(groups))

    def _initial_budget(self, c: AdSetContext) -> int:
        total = next(t for gid, _, t, _ in self._groups if gid == c.group_id)
        members = next(m for gid, _, _, m in self._groups if gid == c.group_id)
        return c.spec.initial_budget_minor or max(total // len(members), c.spec.min_budget_minor)

    def spec(self, adset_id: str) -> AdSetSpec:
        """The ad set's true spec (with its creative's effect, when the scenario has creatives)."""
        return self._by_id[adset_id].spec

    def creative(self, adset_id: str) -> AdSetCreative | None:
        """The creative an ad set runs (what roasloop may see); None when the scenario has none."""
        if adset_id not in self._by_id:
            raise KeyError(adset_id)
        found = self._creatives.get(adset_id)
        return found[0] if found else None

    def creative_effect(self, adset_id: str) -> CreativeEffect | None:
        """Ground truth: the log multipliers the creative applied to the ad set's base rates."""
        found = self._creatives.get(adset_id)
        return found[1] if found else None

    # -- budgets ----------------------------------------------------------------------------
    def attach_meta(self, state: MetaState) -> MetaState:
        """Register the market's entities in a Meta stand-in state and read budgets from it from now on."""
        ents = self.entities()
        with state.lock:
            if ents.account_id not in state.accounts:
                floor = min(a.min_budget_minor for a in ents.adsets())
                state.add_account(ents.account_id, ents.currency, floor)
            for g in ents.groups:
                for camp in g.campaigns:
                    if camp.campaign_id not in state.campaigns:
                        state.add_campaign(camp.campaign_id, ents.account_id, camp.name)
                    for a in camp.adsets:
                        if a.adset_id not in state.adsets:
                            state.add_adset(a.adset_id, camp.campaign_id, self._budgets[a.adset_id], a.name)
        self._meta = state
        self._sync_meta_ads()
        return state

    def _sync_meta_ads(self) -> None:
        if self._meta is None:
            return
        with self._meta.lock:
            for c in self._contexts:
                for ad, _ in self.ads_of(c.adset_id):
                    if ad.ad_id not in self._meta.ads:
                        self._meta.add_ad(ad.ad_id, c.adset_id, ad.name)

    def set_budget(self, entity_id: str, daily_budget_minor: int) -> None:
        """Set an ad set's daily budget directly (bypassing the Graph API and its limits)."""
        if entity_id not in self._by_id:
            raise KeyError(entity_id)
        if daily_budget_minor < 0:
            raise ValueError("a budget cannot be negative")
        self._budgets[entity_id] = daily_budget_minor
        if self._meta is not None:
            with self._meta.lock:
                self._meta.adsets[entity_id].daily_budget = daily_budget_minor

    def set_budgets(self, budgets: Mapping[str, int]) -> None:
        for entity_id, amount in budgets.items():
            self.set_budget(entity_id, amount)

    def budget_of(self, entity_id: str) -> int:
        if self._meta is not None:
            adset = self._meta.adsets[entity_id]
            return (adset.daily_budget or 0) if adset.status == "ACTIVE" else 0
        return self._budgets[entity_id]

    def budgets(self) -> dict[str, int]:
        return {c.adset_id: self.budget_of(c.adset_id) for c in self._contexts}

    # -- time -------------------------------------------------------------------------------
    def step(self) -> DayOutcome:
        """Simulate one day at the current budgets and return what happened during it."""
        day_index, start = self.day_index, self.day_start()
        end = start + timedelta(days=1)
        delivery: list[AdSetDay] = []
        clicks: list[ClickRecord] = []
        for ctx in self._contexts:
            if day_index < ctx.spec.launch_day:
                continue
            budget = self.budget_of(ctx.adset_id)
            sim = simulate_adset_day(
                seed=self.seed,
                day_index=day_index,
                day_start=start,
                ctx=ctx,
                ads=self.ads_of(ctx.adset_id),
                budget_minor=budget,
                drift=drift_at(ctx.spec.drift, day_index),
                overspend=self.scenario.overspend,
                tracking=self.scenario.tracking,
            )
            delivery.append(
                AdSetDay(
                    ctx.adset_id,
                    ctx.campaign_id,
                    ctx.group_id,
                    start.date(),
                    budget,
                    sim.spend_minor,
                    sim.impressions,
                    len(sim.clicks),
                    sim.leads,
                    sim.clicks_by_ad,
                )
            )
            clicks.extend(sim.clicks)
            for item in sim.future:
                order = -1 if isinstance(item, ContactRecord) else _stage_rank(item.stage_id)
                at = item.created_at if isinstance(item, ContactRecord) else item.occurred_at
                heapq.heappush(self._pending, (at, item.deal_id, order, item))
        contacts: list[ContactRecord] = []
        changes: list[StageChange] = []
        while self._pending and self._pending[0][0] < end:
            item = heapq.heappop(self._pending)[3]
            (contacts if isinstance(item, ContactRecord) else changes).append(item)  # type: ignore[arg-type]
        clicks.sort(key=lambda c: (c.occurred_at, c.click_id))
        outcome = DayOutcome(
            day_index,
            start.date(),
            start,
            end,
            self.scenario.currency,
            self.scenario.tenant_id,
            tuple(delivery),
            tuple(clicks),
            tuple(contacts),
            tuple(changes),
        )
        self._record_insights(outcome)
        self.day_index += 1
        self._sync_meta_ads()
        return outcome

    def _record_insights(self, outcome: DayOutcome) -> None:
        if self._meta is None:
            return
        for d in outcome.delivery:
            for row in split_delivery(d, self.scenario.account_id):
                self._meta.record_insights(row)

    # -- ground truth -----------------------------------------------------------------------
    def truth(self, day_index: int | None = None, stage_values_major: Mapping[str, int] | None = None) -> MarketTruth:
        """True expected pipeline ROAS of every ad set on ``day_index`` (default today) at current budgets."""
        day = self.day_index if day_index is None else day_index
        values = stage_values_minor(self.scenario.currency, stage_values_major)
        adsets = {
            c.adset_id: adset_truth(c.spec, c.adset_id, c.group_id, day, self.budget_of(c.adset_id), values)
            for c in self._contexts
        }
        return MarketTruth(day, self.scenario.currency, values, adsets)

    def oracle_allocation(
        self,
        group_id: str,
        total_minor: int | None = None,
        day_index: int | None = None,
        stage_values_major: Mapping[str, int] | None = None,
        lower: Mapping[str, int] | None = None,
        upper: Mapping[str, int] | None = None,
    ) -> dict[str, int]:
        """The split of a group's total (default: the scenario's) that maximises expected pipeline value
        (within per-ad-set ``lower``/``upper`` bounds, e.g. what today's guardrails allow)."""
        specs, total = self._group_specs(group_id)
        day = self.day_index if day_index is None else day_index
        values = stage_values_minor(self.scenario.currency, stage_values_major)
        return oracle_allocation(specs, total if total_minor is None else total_minor, day, values, lower, upper)

    def expected_value(
        self,
        group_id: str,
        budgets: Mapping[str, int],
        day_index: int | None = None,
        stage_values_major: Mapping[str, int] | None = None,
    ) -> float:
        """Expected eventual pipeline value (minor units) one day at ``budgets`` earns: regret's yardstick."""
        specs, _ = self._group_specs(group_id)
        day = self.day_index if day_index is None else day_index
        return expected_group_value(specs, budgets, day, stage_values_minor(self.scenario.currency, stage_values_major))

    def _group_specs(self, group_id: str) -> tuple[dict[str, AdSetSpec], int]:
        for gid, _, total, members in self._groups:
            if gid == group_id:
                return {c.adset_id: c.spec for c in members}, total
        raise KeyError(group_id)


def _stage_rank(stage_id: str) -> int:
    return ALL_STAGES.index(stage_id)
