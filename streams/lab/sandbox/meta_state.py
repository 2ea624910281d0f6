"""The Meta stand-in's world: ad accounts, campaigns, ad sets, ads, budgets and their history.

Tests own a :class:`MetaState`, hand it to :func:`streams.lab.sandbox.meta.create_meta_app`, drive
the clock, inject faults, and then read ``change_log`` to check what the executor actually did:
every applied budget change is there once, with old and new value and time. The state is shared
between the server thread and the test thread, so mutations go through one lock.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from streams.lab.sandbox.meta_errors import MetaApiError, budget_too_low, invalid_parameter, user_request_limit
from streams.lab.sandbox.meta_faults import MetaFaults
from streams.lab.sandbox.meta_usage import MetaUsage, UsageTier

Clock = Callable[[], datetime]
Level = Literal["account", "campaign", "adset", "ad"]


def wall_clock() -> datetime:
    return datetime.now(UTC)


def appsecret_proof(access_token: str, app_secret: str) -> str:
    """HMAC-SHA256 of the token keyed with the app secret, hex: what Meta expects."""
    return hmac.new(app_secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()


@dataclass
class MetaAccount:
    account_id: str  # digits; the Graph path is act_<account_id>
    currency: str = "USD"
    name: str = "Sandbox account"
    min_daily_budget_minor: int = 100
    timezone_name: str = "Etc/UTC"


@dataclass
class MetaCampaign:
    campaign_id: str
    account_id: str
    name: str
    status: str = "ACTIVE"
    daily_budget: int | None = None  # set only under campaign budgets (CBO)
    objective: str = "OUTCOME_LEADS"


@dataclass
class MetaAdSet:
    adset_id: str
    campaign_id: str
    account_id: str
    name: str
    daily_budget: int | None
    status: str = "ACTIVE"
    bid_amount: int | None = None
    bid_strategy: str | None = None
    optimization_goal: str | None = None
    targeting: dict[str, Any] | None = None  # as sent: geo_locations, age_min/max, positions, audiences


@dataclass
class MetaAd:
    ad_id: str
    adset_id: str
    campaign_id: str
    account_id: str
    name: str
    status: str = "ACTIVE"
    creative_id: str | None = None


@dataclass
class MetaCreative:
    creative_id: str
    account_id: str
    name: str
    spec: dict[str, Any]


@dataclass
class MetaMedia:
    """Uploaded ad images (by hash) and ad videos (by id), per account."""

    images: dict[str, tuple[str, int]] = field(default_factory=dict)  # hash -> (account, size)
    videos: dict[str, tuple[str, int]] = field(default_factory=dict)  # id -> (account, size)
    creatives: dict[str, MetaCreative] = field(default_factory=dict)
    created: list[tuple[str, str]] = field(default_factory=list)  # (edge, id): every creation, in order


@dataclass(frozen=True)
class BudgetChange:
    """One budget change Meta applied."""

    entity_id: str
    level: Level
    old_budget_minor: int | None
    new_budget_minor: int
    at: datetime
    seq: int


@dataclass(frozen=True)
class RefusedChange:
    entity_id: str
    requested_budget_minor: int
    at: datetime
    code: int
    reason: str


@dataclass(frozen=True)
class InsightsRow:
    """Ad-level delivery for one day; coarser levels are sums of these."""

    day: date
    account_id: str
    campaign_id: str
    adset_id: str
    ad_id: str
    spend_minor: int
    impressions: int
    clicks: int
    leads: int = 0


@dataclass
class TokenGrant:
    """A system-user token of its own: its app secret, the ad accounts it may use, revoked or not."""

    app_secret: str
    accounts: frozenset[str]
    revoked: bool = False


@dataclass
class MetaState:
    access_token: str = "sandbox-meta-token"
    app_secret: str = "sandbox-meta-app-secret"
    clock: Clock = wall_clock
    require_appsecret_proof: bool = True
    echo_bad_token: bool = False
    """Repeat a token it cannot parse in the error, as the Graph API does (a test's secret-leak probe)."""
    budget_changes_per_hour: int = 4
    budget_block_seconds: int = 3600
    max_daily_budget_minor: int = 100_000_000  # Meta's 1M USD cap
    tier: UsageTier = field(default_factory=UsageTier)
    accounts: dict[str, MetaAccount] = field(default_factory=dict)
    campaigns: dict[str, MetaCampaign] = field(default_factory=dict)
    adsets: dict[str, MetaAdSet] = field(default_factory=dict)
    ads: dict[str, MetaAd] = field(default_factory=dict)
    change_log: list[BudgetChange] = field(default_factory=list)
    refused: list[RefusedChange] = field(default_factory=list)
    insights: list[InsightsRow] = field(default_factory=list)
    requests: list[tuple[str, str, datetime]] = field(default_factory=list)  # (method, path, at)
    traceparents: list[str | None] = field(default_factory=list)  # W3C trace context, per request
    faults: MetaFaults = field(default_factory=MetaFaults)
    grants: dict[str, TokenGrant] = field(default_factory=dict)
    """Tokens besides ``access_token``, each limited to its ad accounts (``access_token`` sees all)."""
    media: MetaMedia = field(default_factory=MetaMedia)
    usage: MetaUsage = field(init=False)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _blocked_until: dict[str, datetime] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.usage = MetaUsage(tier=self.tier)

    # -- building the world ---------------------------------------------------------------
    def add_account(self, account_id: str, currency: str = "USD", min_daily_budget_minor: int = 100) -> MetaAccount:
        acc = MetaAccount(account_id.removeprefix("act_"), currency, min_daily_budget_minor=min_daily_budget_minor)
        self.accounts[acc.account_id] = acc
        return acc

    def add_campaign(
        self, campaign_id: str, account_id: str, name: str = "", daily_budget: int | None = None
    ) -> MetaCampaign:
        c = MetaCampaign(
            campaign_id,
            account_id.removeprefix("act_"),
            name or f"Campaign {campaign_id}",
            daily_budget=daily_budget,
        )
        self.campaigns[campaign_id] = c
        return c

    def add_adset(self, adset_id: str, campaign_id: str, daily_budget: int | None, name: str = "") -> MetaAdSet:
        account_id = self.campaigns[campaign_id].account_id
        a = MetaAdSet(adset_id, campaign_id, account_id, name or f"Ad set {adset_id}", daily_budget)
        self.adsets[adset_id] = a
        return a

    def add_ad(self, ad_id: str, adset_id: str, name: str = "") -> MetaAd:
        s = self.adsets[adset_id]
        ad = MetaAd(ad_id, adset_id, s.campaign_id, s.account_id, name or f"Ad {ad_id}")
        self.ads[ad_id] = ad
        return ad

    def grant(self, token: str, app_secret: str, *accounts: str) -> TokenGrant:
        """Issue a token that may use only ``accounts`` (ids with or without ``act_``)."""
        g = TokenGrant(app_secret, frozenset(a.removeprefix("act_") for a in accounts))
        with self.lock:
            self.grants[token] = g
        return g

    def revoke(self, token: str) -> None:
        with self.lock:
            self.grants[token].revoked = True

    def record_insights(self, row: InsightsRow) -> None:
        with self.lock:
            self.insights.append(row)

    # -- queries ----------------------------------------------------------------------------
    def now(self) -> datetime:
        now = self.clock()
        if now.tzinfo is None:
            raise ValueError("MetaState.clock must return an aware datetime")
        return now

    def proof(self) -> str:
        return appsecret_proof(self.access_token, self.app_secret)

    def budget_of(self, entity_id: str) -> int | None:
        with self.lock:
            if entity_id in self.adsets:
                return self.adsets[entity_id].daily_budget
            if entity_id in self.campaigns:
                return self.campaigns[entity_id].daily_budget
        raise KeyError(entity_id)

    def account_of(self, object_id: str) -> str | None:
        if object_id.startswith("act_"):
            return object_id[4:] if object_id[4:] in self.accounts else None
        for table in (self.adsets, self.campaigns, self.ads):
            obj = table.get(object_id)
            if obj is not None:
                return str(obj.account_id)
        creative = self.media.creatives.get(object_id)
        return creative.account_id if creative is not None else None

    def changes_of(self, entity_id: str, since: datetime | None = None) -> list[BudgetChange]:
        with self.lock:
            return [c for c in self.change_log if c.entity_id == entity_id and (since is None or c.at > since)]

    def blocked_until(self, adset_id: str) -> datetime | None:
        until = self._blocked_until.get(adset_id)
        return until if until is not None and until > self.now() else None

    # -- the one write roasloop makes -----------------------------------------------------
    def set_daily_budget(self, entity_id: str, new_budget: int) -> BudgetChange | None:
        """Apply a ``daily_budget`` update as Meta would; ``None`` when the value is unchanged.

        An ad set's budget may change at most ``budget_changes_per_hour`` times per rolling hour;
        the next attempt is refused with code 17 and blocks the ad set's budget for an hour.
        """
        with self.lock:
            now = self.now()
            target: MetaAdSet | MetaCampaign | None = self.adsets.get(entity_id) or self.campaigns.get(entity_id)
            if target is None:
                raise KeyError(entity_id)
            level: Level = "adset" if isinstance(target, MetaAdSet) else "campaign"
            account = self.accounts[target.account_id]
            if new_budget < account.min_daily_budget_minor:
                self._refuse(entity_id, new_budget, now, 100, "below minimum")
                raise budget_too_low(account.min_daily_budget_minor, account.currency)
            if new_budget > self.max_daily_budget_minor:
                self._refuse(entity_id, new_budget, now, 100, "above maximum")
                raise invalid_parameter("The daily budget is above the maximum allowed.", subcode=1885261)
            if level == "campaign" and target.daily_budget is None:
                self._refuse(entity_id, new_budget, now, 100, "campaign has no campaign budget")
                raise invalid_parameter("This campaign uses ad set budgets; set daily_budget on its ad sets.")
            if target.daily_budget == new_budget:
                return None
            if level == "adset":
                self._check_adset_rate(entity_id, new_budget, now)
            change = BudgetChange(entity_id, level, target.daily_budget, new_budget, now, len(self.change_log) + 1)
            target.daily_budget = new_budget
            self.change_log.append(change)
            return change

    def _check_adset_rate(self, adset_id: str, new_budget: int, now: datetime) -> None:
        until = self._blocked_until.get(adset_id)
        if until is not None and now < until:
            self._refuse(adset_id, new_budget, now, 17, "ad set blocked")
            raise self._budget_limit_error(until - now)
        recent = [c for c in self.change_log if c.entity_id == adset_id and c.at > now - timedelta(hours=1)]
        if len(recent) >= self.budget_changes_per_hour:
            until = now + timedelta(seconds=self.budget_block_seconds)
            self._blocked_until[adset_id] = until
            self._refuse(adset_id, new_budget, now, 17, "more than 4 budget changes in an hour")
            raise self._budget_limit_error(until - now)

    def _budget_limit_error(self, remaining: timedelta) -> MetaApiError:
        seconds = math.ceil(remaining.total_seconds())
        return user_request_limit(
            seconds,
            detail=f"This ad set's budget changed {self.budget_changes_per_hour} times in the last hour; "
            f"budget changes are blocked for {seconds} more seconds.",
        )

    def _refuse(self, entity_id: str, requested: int, now: datetime, code: int, reason: str) -> None:
        self.refused.append(RefusedChange(entity_id, requested, now, code, reason))
