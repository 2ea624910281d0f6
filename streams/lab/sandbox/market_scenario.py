"""The scenario file: a whole simulated ad market as JSON, validated by pydantic.

A scenario is data, not code, so anyone can write a new market (more ad sets, a skewed value
distribution, slow deals, drift, a stream of new ads) without touching Python. Every rate is a
probability in [0, 1], every amount is integer minor units of ``currency``, every delay is in
*days* (fractions allowed): the market compresses days into seconds only when it runs live.

Shape (see ``streams/lab/sandbox/README.md`` for a walk-through)::

    {"name": ..., "tenant_id": ..., "currency": "USD", "start_date": "2025-01-06", "days": 60,
     "tracking": {...}, "overspend": {...},
     "groups": [{"name": ..., "total_budget_minor": 50000,
                 "adset_defaults": {... any AdSetSpec field ...},
                 "adsets": [{"name": ..., "ctr": 0.012, "cpc_minor": 150,
                             "funnel": {"lead_rate": 0.03, ...}, ...}]}]}

``adset_defaults`` is merged under each ad set (nested ``funnel`` and ``delays`` key by key),
so a 50-ad-set market lists only what differs.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.money import CurrencyCode

Rate = Annotated[float, Field(ge=0.0, le=1.0)]
Days = Annotated[float, Field(ge=0.0, le=365.0)]
NumericId = Annotated[str, Field(pattern=r"^[0-9]{1,20}$")]

SCENARIO_DIR = Path(__file__).parent / "scenarios"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Funnel(_Spec):
    """Per-step probabilities from a click to a won deal (HubSpot default pipeline order).

    A deal that fails a step is marked ``closedlost`` with probability ``lost_report_rate``;
    otherwise it stalls silently at its stage (as real deals do).
    """

    lead_rate: Rate = Field(description="click -> contact + deal at appointmentscheduled")
    qualify_rate: Rate = Field(0.6, description="appointmentscheduled -> qualifiedtobuy")
    appointment_rate: Rate = Field(0.5, description="qualifiedtobuy -> presentationscheduled")
    decision_rate: Rate = Field(0.6, description="presentationscheduled -> decisionmakerboughtin")
    contract_rate: Rate = Field(0.7, description="decisionmakerboughtin -> contractsent")
    win_rate: Rate = Field(0.5, description="contractsent -> closedwon")
    lost_report_rate: Rate = Field(0.6, description="a failed step is reported as closedlost")


class Delays(_Spec):
    """Mean delay in days of each step (gamma-distributed, shape 2)."""

    lead: Days = Field(0.1, description="click -> form fill (contact + deal created)")
    qualify: Days = 1.0
    appointment: Days = 3.0
    decision: Days = 4.0
    contract: Days = 5.0
    close: Days = 7.0
    lost: Days = Field(5.0, description="failed step -> closedlost reported")


class DriftPoint(_Spec):
    """Multipliers reached on ``day``; piecewise-linear between points, 1.0 before the first."""

    day: int = Field(ge=0)
    lead_rate_multiplier: float = Field(1.0, ge=0.0, le=20.0)
    win_rate_multiplier: float = Field(1.0, ge=0.0, le=20.0)
    cpc_multiplier: float = Field(1.0, gt=0.0, le=20.0)


class AdSetSpec(_Spec):
    """One ad set's hidden truth and its starting budget."""

    name: str = Field(min_length=1, max_length=120)
    adset_id: NumericId | None = Field(None, description="Meta id; generated when omitted")
    ctr: Rate = Field(gt=0.0, description="clicks per impression")
    cpc_minor: int = Field(gt=0, description="mean cost per click, minor units")
    saturation_minor: int | None = Field(
        None, gt=0, description="daily spend at which clicks per unit spend halve (None: linear)"
    )
    funnel: Funnel
    delays: Delays = Field(default_factory=Delays)
    deal_amount_minor: int = Field(gt=0, description="mean closed-won amount, minor units")
    deal_amount_sigma: float = Field(0.35, ge=0.0, le=2.0, description="lognormal spread of amounts")
    min_budget_minor: int = Field(100, ge=1)
    initial_budget_minor: int | None = Field(None, ge=0, description="default: equal share of total")
    launch_day: int = Field(0, ge=0, description="day the ad set starts delivering")
    ads: int = Field(2, ge=1, le=50, description="ads at launch")
    new_ad_every_days: int | None = Field(None, ge=1, description="a new ad launches this often")
    drift: tuple[DriftPoint, ...] = ()

    @model_validator(mode="after")
    def _drift_sorted(self) -> Self:
        days = [p.day for p in self.drift]
        if days != sorted(set(days)):
            raise ValueError("drift points must have strictly increasing days")
        return self


def _merge(defaults: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    merged = dict(defaults)
    for key, value in item.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


class GroupSpec(_Spec):
    """An allocation group: one campaign whose ad sets share ``total_budget_minor`` per day."""

    name: str = Field(min_length=1, max_length=120)
    campaign_id: NumericId | None = None
    total_budget_minor: int = Field(gt=0)
    adsets: tuple[AdSetSpec, ...] = Field(min_length=1, max_length=500)

    @model_validator(mode="before")
    @classmethod
    def _apply_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict) and "adset_defaults" in data:
            data = dict(data)
            defaults = data.pop("adset_defaults") or {}
            data["adsets"] = [_merge(defaults, a) if isinstance(a, dict) else a for a in data.get("adsets", [])]
        return data

    @model_validator(mode="after")
    def _budgets_fit(self) -> Self:
        floor = sum(a.min_budget_minor for a in self.adsets)
        if floor > self.total_budget_minor:
            raise ValueError(f"minimum budgets ({floor}) exceed the group total ({self.total_budget_minor})")
        return self


class Tracking(_Spec):
    """How often each attribution signal survives from click to CRM contact."""

    click_id_capture_rate: Rate = Field(0.6, description="contact carries rl_cid")
    fbclid_capture_rate: Rate = Field(0.3, description="contact carries fbclid")
    email_on_click_rate: Rate = Field(0.3, description="click event carries the person's email hash")
    ip_ua_capture_rate: Rate = Field(0.9, description="contact carries IP and user agent")


class Overspend(_Spec):
    """Meta's daily delivery noise: spend = budget * clip(N(mean, sd), floor, cap)."""

    mean: float = Field(1.0, ge=0.5, le=1.25)
    sd: float = Field(0.08, ge=0.0, le=0.5)
    floor: float = Field(0.6, ge=0.0, le=1.0)
    cap: float = Field(1.25, ge=1.0, le=1.25, description="Meta never spends over 125% of a daily budget")


class Creatives(_Spec):
    """Optional creatives: each ad set gets an embedding and categorical features that partly
    predict its true rates (see :mod:`streams.lab.sandbox.market_creative`). Without this section the
    market is exactly what it was before creatives existed."""

    dim: int = Field(16, ge=2, le=512, description="embedding dimension")
    account_seed: int = Field(0, ge=0, description="the account's hidden taste: same across market seeds")
    ctr_sd: float = Field(0.3, ge=0.0, le=2.0, description="sd of the creative's log-CTR multiplier")
    lead_sd: float = Field(0.4, ge=0.0, le=2.0, description="sd of its log lead-rate multiplier")
    value_sd: float = Field(0.2, ge=0.0, le=2.0, description="sd of its log deal-amount multiplier")
    embedding_share: float = Field(0.5, ge=0.0, le=1.0, description="explained part carried by the embedding "
                                   "(the rest by the categorical features)")
    noise_share: float = Field(0.3, ge=0.0, le=1.0, description="variance share no creative feature predicts")
    cpc_follows_ctr: float = Field(1.0, ge=0.0, le=2.0, description="1.0: constant CPM, CPC falls as CTR rises")
    concepts: int = Field(0, ge=0, le=1000, description="the account's creative concepts (themes): > 0 "
                          "draws each embedding around one of them, as ads of one concept look alike")
    concept_spread: float = Field(0.3, ge=0.0, le=1.0, description="share of an embedding's variance "
                                  "that is the ad's own, not its concept's")


class Scenario(_Spec):
    """A simulated market. Validate a file with ``Scenario.load(path)``."""

    name: str = Field(min_length=1, max_length=80, pattern=r"^[a-z0-9][a-z0-9_\-]*$")
    description: str = ""
    tenant_id: str = Field("sandbox", pattern=r"^[a-z0-9][a-z0-9_\-]*$", max_length=64)
    currency: CurrencyCode = "USD"
    account_id: NumericId = "1000000001"
    portal_id: int = Field(62515, gt=0, description="HubSpot portal (hub) id")
    start_date: date = date(2025, 1, 6)
    days: int = Field(60, ge=1, le=3650, description="suggested horizon for simulations")
    tracking: Tracking = Field(default_factory=Tracking)
    overspend: Overspend = Field(default_factory=Overspend)
    groups: tuple[GroupSpec, ...] = Field(min_length=1, max_length=50)
    creatives: Creatives | None = Field(None, description="per-ad-set creatives that partly predict rates")

    @model_validator(mode="after")
    def _ids_unique(self) -> Self:
        given = [a.adset_id for g in self.groups for a in g.adsets if a.adset_id]
        given += [g.campaign_id for g in self.groups if g.campaign_id]
        if len(given) != len(set(given)):
            raise ValueError("explicit campaign_id / adset_id values must be unique")
        return self

    @classmethod
    def load(cls, path: str | Path) -> Scenario:
        """Read and validate a scenario file; a bare name looks in ``streams/lab/sandbox/scenarios``."""
        p = Path(path)
        if not p.exists() and p.suffix == "" and (SCENARIO_DIR / f"{p}.json").exists():
            p = SCENARIO_DIR / f"{p}.json"
        return cls.model_validate(json.loads(p.read_text()))


def list_scenarios() -> list[Path]:
    """The scenario files shipped with roasloop."""
    return sorted(SCENARIO_DIR.glob("*.json"))
