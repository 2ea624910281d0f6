"""Guardrail limits: the defaults from settings, a tenant's and a campaign's overrides, an entity's bounds.

One function, :func:`effective_limits`, turns those layers into the :class:`Limits` in force for one
entity. The executor calls it (through :func:`load_limits`) before every change; the backtest calls
it (through a :class:`LimitsBook`, a snapshot of every override) for every change it replays; the
simulator calls it with the settings alone. So "make the velocity window 24 h for one campaign" is
one override row (``roasloop executor limits set --tenant T --campaign C --change-window-hours 24``,
or :func:`streams.core.controls.limit_overrides.save_override`), and production and the backtest
both follow it.

Layers, most specific last, each field taken from the last layer that sets it:

1. settings (``ROASLOOP_EXECUTOR_*``, :class:`GuardrailSettings`);
2. the tenant's override (``guardrail_overrides`` with ``campaign_id = ''``);
3. the campaign's override (``guardrail_overrides`` with the campaign's id);
4. the entity's floor and cap (``executor_entity_limits``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from streams.core.db import Conn
from streams.core.settings import load_settings

Policy = Literal["clamp", "block"]
TENANT_WIDE = ""
"""``campaign_id`` of a tenant-wide override row."""
SETTINGS, TENANT, CAMPAIGN, ENTITY = "settings", "tenant", "campaign", "entity"
"""Names of the layers, as :meth:`Layers.sources` reports them."""


PLATFORM_MIN_BUDGET_MINOR = 100
"""Meta's smallest daily budget by default (1.00 in a two-decimal currency): the one default the
executor's guardrails, the sampler's allocation and the backtest share; each can be configured."""


class GuardrailSettings(BaseSettings):
    """The guardrail defaults every tenant starts from (``ROASLOOP_EXECUTOR_*``).

    The bounds here are the ones :mod:`~streams.core.controls.limit_overrides` checks an override
    against and the ``guardrail_overrides`` table's CHECKs repeat, so a value that a setting refuses
    is refused as an override too.
    """

    model_config = SettingsConfigDict(env_prefix="ROASLOOP_EXECUTOR_", env_file=None, extra="ignore", frozen=True)

    max_changes_per_entity_hour: int = Field(default=4, ge=0, description="Meta's documented ad-set limit")
    max_actions_per_campaign_hour: int = Field(default=15, ge=0)
    max_change_fraction: float = Field(default=0.20, ge=0, le=10)
    change_window_hours: float = Field(default=6.0, gt=0, le=168)
    policy: Policy = "clamp"
    platform_min_budget_minor: int = Field(default=PLATFORM_MIN_BUDGET_MINOR, ge=0,
                                           description="Meta's minimum daily budget")


def guardrail_settings() -> GuardrailSettings:
    """Read ``ROASLOOP_EXECUTOR_*``; a bad value fails naming the variable."""
    return load_settings(GuardrailSettings)


@dataclass(frozen=True)
class Limits:
    """The limits in force for one entity (settings, overridden per tenant, campaign and entity)."""

    max_changes_per_entity_hour: int = 4
    max_actions_per_campaign_hour: int = 15
    max_change_fraction: Fraction = Fraction(1, 5)
    change_window: timedelta = timedelta(hours=6)
    policy: Policy = "clamp"
    platform_min_budget_minor: int = PLATFORM_MIN_BUDGET_MINOR
    floor_minor: int | None = None
    cap_minor: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, in the settings' names and units (``change_window_hours``, the fraction as a number)."""
        return {
            "max_changes_per_entity_hour": self.max_changes_per_entity_hour,
            "max_actions_per_campaign_hour": self.max_actions_per_campaign_hour,
            "max_change_fraction": float(self.max_change_fraction),
            "change_window_hours": self.change_window / timedelta(hours=1),
            "policy": self.policy,
            "platform_min_budget_minor": self.platform_min_budget_minor,
            "floor_minor": self.floor_minor,
            "cap_minor": self.cap_minor,
        }


@dataclass(frozen=True)
class Override:
    """One tenant's or campaign's override: ``None`` leaves a field to the layer beneath.

    The field names are :class:`GuardrailSettings`' (``change_window_hours``, not ``change_window``)
    because an override is a setting changed for one scope.
    """

    max_changes_per_entity_hour: int | None = None
    max_actions_per_campaign_hour: int | None = None
    max_change_fraction: Fraction | None = None
    change_window_hours: float | None = None
    policy: Policy | None = None
    platform_min_budget_minor: int | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Override:
        fraction, window = row["max_change_fraction"], row["change_window_hours"]
        return cls(
            max_changes_per_entity_hour=row["max_changes_per_entity_hour"],
            max_actions_per_campaign_hour=row["max_actions_per_campaign_hour"],
            # numeric arrives as Decimal: through its text the fraction stays exact, as the executor had it
            max_change_fraction=None if fraction is None else Fraction(str(fraction)),
            change_window_hours=None if window is None else float(window),
            policy=row["policy"],
            platform_min_budget_minor=row["platform_min_budget_minor"],
        )

    def set_fields(self) -> dict[str, Any]:
        """The fields it sets, as they are (a fraction stays a ``Fraction``)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    def as_dict(self) -> dict[str, Any]:
        """The fields it sets, JSON-ready (a fraction as a number)."""
        return {name: float(v) if isinstance(v, Fraction) else v for name, v in self.set_fields().items()}


OVERRIDABLE = tuple(f.name for f in fields(Override))
"""The limits a tenant or campaign may override: every :class:`GuardrailSettings` field."""


@dataclass(frozen=True)
class Bounds:
    """An entity's floor and cap, in the minor units of its currency."""

    floor_minor: int | None = None
    cap_minor: int | None = None


def _fraction(value: float | Fraction | Decimal) -> Fraction:
    """Exact: 0.2 from a setting is 1/5, not the binary float's 3602879701896397/18014398509481984."""
    return value if isinstance(value, Fraction) else Fraction(str(value))


def effective_limits(defaults: GuardrailSettings, *overrides: Override | None,
                     bounds: Bounds | None = None) -> Limits:
    """The limits for one entity: ``defaults``, then each override in order (tenant, then campaign)."""
    values: dict[str, Any] = {name: getattr(defaults, name) for name in OVERRIDABLE}
    for override in overrides:
        if override is not None:
            values.update(override.set_fields())
    return Limits(
        max_changes_per_entity_hour=int(values["max_changes_per_entity_hour"]),
        max_actions_per_campaign_hour=int(values["max_actions_per_campaign_hour"]),
        max_change_fraction=_fraction(values["max_change_fraction"]),
        change_window=timedelta(hours=float(values["change_window_hours"])),
        policy=values["policy"],
        platform_min_budget_minor=int(values["platform_min_budget_minor"]),
        floor_minor=bounds.floor_minor if bounds is not None else None,
        cap_minor=bounds.cap_minor if bounds is not None else None,
    )


@dataclass(frozen=True)
class Layers:
    """What is stored for one (tenant, campaign, entity): the layers :func:`effective_limits` stacks."""

    tenant: Override | None = None
    campaign: Override | None = None
    bounds: Bounds | None = None
    versions: Mapping[str, int] = field(default_factory=dict)
    """Each stored layer's row version (what a writer passes back as ``expected_version``)."""

    def limits(self, defaults: GuardrailSettings) -> Limits:
        return effective_limits(defaults, self.tenant, self.campaign, bounds=self.bounds)

    def sources(self) -> dict[str, str]:
        """Which layer set each limit: ``settings``, ``tenant``, ``campaign``, ``entity`` (or ``none``)."""
        out = dict.fromkeys(OVERRIDABLE, SETTINGS)
        for layer, override in ((TENANT, self.tenant), (CAMPAIGN, self.campaign)):
            if override is not None:
                out.update(dict.fromkeys(override.set_fields(), layer))
        for name in ("floor_minor", "cap_minor"):
            out[name] = ENTITY if self.bounds is not None and getattr(self.bounds, name) is not None else "none"
        return out


_LAYERS_SQL = (
    "SELECT CASE WHEN campaign_id = '' THEN 'tenant' ELSE 'campaign' END AS layer, version,"
    " max_changes_per_entity_hour, max_actions_per_campaign_hour, max_change_fraction, change_window_hours,"
    " policy, platform_min_budget_minor, NULL::bigint AS floor_minor, NULL::bigint AS cap_minor"
    " FROM guardrail_overrides WHERE tenant_id = $1 AND campaign_id IN ('', $2)"
    " UNION ALL"
    " SELECT 'entity', version, NULL, NULL, NULL, NULL, NULL, NULL, floor_minor, cap_minor"
    " FROM executor_entity_limits WHERE tenant_id = $1 AND entity_id = $3"
)


async def load_layers(conn: Conn, tenant_id: str, campaign_id: str, entity_id: str) -> Layers:
    """The stored layers of one entity, read in one round trip (the executor does this per change)."""
    overrides: dict[str, Override] = {}
    bounds: Bounds | None = None
    versions: dict[str, int] = {}
    for row in await conn.fetch(_LAYERS_SQL, tenant_id, campaign_id, entity_id):
        versions[row["layer"]] = row["version"]
        if row["layer"] == ENTITY:
            bounds = Bounds(row["floor_minor"], row["cap_minor"])
        else:
            overrides[row["layer"]] = Override.from_row(row)
    return Layers(overrides.get(TENANT), overrides.get(CAMPAIGN), bounds, versions)


async def load_limits(conn: Conn, defaults: GuardrailSettings, tenant_id: str, campaign_id: str,
                      entity_id: str) -> Limits:
    """The limits in force for one entity now, read from PostgreSQL in one round trip."""
    return (await load_layers(conn, tenant_id, campaign_id, entity_id)).limits(defaults)


@dataclass
class LimitsBook:
    """Every override and bound, held in memory: how offline tools apply exactly the production limits.

    A snapshot of the rows as they are *now*: overrides keep no history, so a backtest of last
    month uses today's overrides (its report says which).
    """

    defaults: GuardrailSettings = field(default_factory=guardrail_settings)
    overrides: dict[tuple[str, str], Override] = field(default_factory=dict)
    """``(tenant_id, campaign_id)`` -> override; ``campaign_id`` ``""`` is the tenant's."""
    bounds: dict[tuple[str, str], Bounds] = field(default_factory=dict)
    """``(tenant_id, entity_id)`` -> floor and cap."""
    source: str = SETTINGS
    """Where the overrides came from: ``settings`` (none: the defaults alone) or ``postgresql``."""
    _memo: dict[tuple[GuardrailSettings, Override | None, Override | None, Bounds | None], Limits] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    def layers_for(self, tenant_id: str, campaign_id: str, entity_id: str) -> Layers:
        campaign = self.overrides.get((tenant_id, campaign_id)) if campaign_id != TENANT_WIDE else None
        return Layers(self.overrides.get((tenant_id, TENANT_WIDE)), campaign, self.bounds.get((tenant_id, entity_id)))

    def limits_for(self, tenant_id: str, campaign_id: str, entity_id: str) -> Limits:
        """Memoized on the layers' values, not on the ids: a book whose rows change answers with the new
        rows, and a replay asking for the same entity at every decision does not rebuild its limits."""
        layers = self.layers_for(tenant_id, campaign_id, entity_id)
        key = (self.defaults, layers.tenant, layers.campaign, layers.bounds)
        limits = self._memo.get(key)
        if limits is None:
            limits = self._memo[key] = layers.limits(self.defaults)
        return limits

    def describe(self) -> dict[str, Any]:
        """Which limits a run used, JSON-ready: the defaults and every override and bound."""
        return {
            "source": self.source,
            "defaults": {name: getattr(self.defaults, name) for name in OVERRIDABLE},
            "overrides": [{"tenant_id": t, "campaign_id": c, **o.as_dict()}
                          for (t, c), o in sorted(self.overrides.items())],
            "entity_bounds": [{"tenant_id": t, "entity_id": e, "floor_minor": b.floor_minor, "cap_minor": b.cap_minor}
                              for (t, e), b in sorted(self.bounds.items())],
        }

    @classmethod
    async def load_for(cls, conn: Conn, defaults: GuardrailSettings,
                       keys: Iterable[tuple[str, str, str]]) -> LimitsBook:
        """The layers of just these ``(tenant, campaign, entity)`` keys, in two round trips: what a batch of
        executor decisions needs, the same rows :func:`load_layers` reads for one entity."""
        keys = list(keys)
        campaigns = sorted({(t, c) for t, c, _ in keys} | {(t, TENANT_WIDE) for t, _, _ in keys})
        entities = sorted({(t, e) for t, _, e in keys})
        book = cls(defaults, source="postgresql")
        for row in await conn.fetch(
                "SELECT o.* FROM guardrail_overrides o JOIN unnest($1::text[], $2::text[]) AS k(tenant_id, campaign_id)"
                " ON o.tenant_id = k.tenant_id AND o.campaign_id = k.campaign_id",
                [t for t, _ in campaigns], [c for _, c in campaigns]):
            book.overrides[(row["tenant_id"], row["campaign_id"])] = Override.from_row(row)
        for row in await conn.fetch(
                "SELECT b.* FROM executor_entity_limits b JOIN unnest($1::text[], $2::text[])"
                " AS k(tenant_id, entity_id) ON b.tenant_id = k.tenant_id AND b.entity_id = k.entity_id",
                [t for t, _ in entities], [e for _, e in entities]):
            book.bounds[(row["tenant_id"], row["entity_id"])] = Bounds(row["floor_minor"], row["cap_minor"])
        return book

    @classmethod
    async def load(cls, conn: Conn, defaults: GuardrailSettings, tenants: Iterable[str] | None = None) -> LimitsBook:
        """Snapshot the overrides and bounds (of ``tenants``, or all) from PostgreSQL."""
        where, args = ("WHERE tenant_id = ANY($1::text[])", [sorted(set(tenants))]) if tenants is not None else ("", [])
        book = cls(defaults, source="postgresql")
        for row in await conn.fetch(f"SELECT * FROM guardrail_overrides {where}", *args):
            book.overrides[(row["tenant_id"], row["campaign_id"])] = Override.from_row(row)
        for row in await conn.fetch(f"SELECT * FROM executor_entity_limits {where}", *args):
            book.bounds[(row["tenant_id"], row["entity_id"])] = Bounds(row["floor_minor"], row["cap_minor"])
        return book
