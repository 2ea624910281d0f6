"""Alert thresholds: the defaults from settings, then each tenant's override.

The alerts stage judges every rule with :func:`load_thresholds`; the operator API shows and writes
them (``GET/PUT /v1/tenants/{t}/alert-thresholds``) through :func:`describe` and
:func:`save_threshold_overrides`. Writes follow the guardrail overrides' discipline
(:mod:`streams.core.controls.limit_overrides`): every value is checked against the setting's own
bounds before anything is written, the write is audited in its transaction, and a writer that
passes the version it read gets a conflict instead of silently undoing a colleague's change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import Field, TypeAdapter, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from streams.core.controls.versioned import field_adapter, save_row
from streams.core.db import Conn
from streams.core.settings import load_settings

DAY = 86_400.0


class AlertThresholds(BaseSettings):
    """What counts as trouble, for every tenant that did not set its own (``ROASLOOP_ALERTS_*``)."""

    model_config = SettingsConfigDict(env_prefix="ROASLOOP_ALERTS_", env_file=None, extra="ignore", frozen=True)

    cooldown_seconds: float = Field(default=6 * 3600.0, gt=0, le=30 * DAY,
                                    description="A firing alert is re-notified at most this often")
    change_failures_count: int = Field(default=3, ge=1, le=10_000,
                                       description="Blocked or failed budget changes in a campaign ...")
    change_failures_window_seconds: float = Field(default=6 * 3600.0, gt=0, le=30 * DAY,
                                                  description="... within this window raise change_failures")
    meta_trouble_seconds: float = Field(default=1800.0, gt=0, le=30 * DAY,
                                        description="Meta answering errors or throttling for longer than this")
    roas_threshold: float = Field(default=1.0, ge=0, le=1000,
                                  description="An ad set whose 95th-percentile pipeline ROAS is below this")
    no_revenue_days: int = Field(default=3, ge=1, le=90,
                                 description="Days of spend without pipeline revenue in a group ...")
    no_revenue_lookback_days: int = Field(default=28, ge=1, le=365,
                                          description="... that had revenue in this many days before")
    unspent_fraction: float = Field(default=0.5, gt=0, le=1,
                                    description="A group spending less than this share of its total in a day")
    lag_records: int = Field(default=1000, ge=1, le=10**12, description="A consumer group this many records behind ...")
    lag_seconds: float = Field(default=600.0, ge=0, le=30 * DAY, description="... for this long")
    dead_letters_quiet_seconds: float = Field(
        default=3600.0, gt=0, le=30 * DAY, description="A dead-letter alert resolves after this long without new ones")
    executing_seconds: float = Field(default=900.0, gt=0, le=30 * DAY,
                                     description="A budget change left executing for longer than this")
    approval_waiting_seconds: float = Field(default=0.0, ge=0, le=30 * DAY,
                                            description="Changes waiting for approval longer than this")


THRESHOLDS = tuple(AlertThresholds.model_fields)
_CHECKS: dict[str, TypeAdapter[Any]] = {
    name: field_adapter(info) for name, info in AlertThresholds.model_fields.items()}
_INT_COLUMNS = {"change_failures_count": 2**31 - 1, "no_revenue_days": 2**31 - 1, "no_revenue_lookback_days": 2**31 - 1}


def alert_thresholds() -> AlertThresholds:
    """Read ``ROASLOOP_ALERTS_*``; a bad value fails naming the variable."""
    return load_settings(AlertThresholds)


@dataclass(frozen=True)
class Thresholds:
    """The thresholds in force for one tenant, and which layer set each (``settings`` or ``tenant``)."""

    values: Mapping[str, Any]
    sources: Mapping[str, str]
    version: int = 0
    """The override row's version (0: none), what a writer passes back as ``expected_version``."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    def seconds(self, name: str) -> timedelta:
        return timedelta(seconds=float(self.values[name]))

    def as_dict(self) -> dict[str, Any]:
        return {"thresholds": dict(self.values), "sources": dict(self.sources), "version": self.version}


def effective(defaults: AlertThresholds, row: Mapping[str, Any] | None) -> Thresholds:
    """The settings, each overridden by the tenant's row where it sets a value."""
    values: dict[str, Any] = {name: getattr(defaults, name) for name in THRESHOLDS}
    sources = dict.fromkeys(THRESHOLDS, "settings")
    for name in THRESHOLDS:
        if row is not None and row[name] is not None:
            values[name] = type(values[name])(row[name])
            sources[name] = "tenant"
    return Thresholds(values, sources, int(row["version"]) if row is not None else 0)


async def load_thresholds(conn: Conn, defaults: AlertThresholds, tenant_id: str) -> Thresholds:
    row = await conn.fetchrow("SELECT * FROM alert_threshold_overrides WHERE tenant_id = $1", tenant_id)
    return effective(defaults, row)


def check_thresholds(changes: Mapping[str, object]) -> dict[str, Any]:
    """Every change validated against the setting's bounds (nothing written if one is bad).

    Raises ValueError naming the field: an unknown name, a wrong type, a value out of bounds.
    ``None`` clears a threshold (the setting applies again).
    """
    if not changes:
        raise ValueError(f"nothing to set: give one of {', '.join(THRESHOLDS)}")
    checked: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in _CHECKS:
            raise ValueError(f"{name}: not an alert threshold; those are {', '.join(THRESHOLDS)}")
        if value is None:
            checked[name] = None
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{name}: must be a number, got {value!r}")
        try:
            checked[name] = _CHECKS[name].validate_python(value, strict=name in _INT_COLUMNS)
        except ValidationError as exc:
            raise ValueError(f"{name}: {exc.errors()[0]['msg'].lower()}, got {value!r}") from None
    return checked


async def save_threshold_overrides(conn: Conn, tenant_id: str, changes: Mapping[str, object], actor: str,
                                   expected_version: int | None = None) -> int:
    """Set (or with ``None`` clear) a tenant's thresholds; returns the row's new version.

    Raises ValueError for a bad value, :class:`~streams.core.controls.versioned.StaleVersion`
    when ``expected_version`` is not the stored one.
    """
    checked = check_thresholds(changes)
    return await save_row(conn, "alert_threshold_overrides", {"tenant_id": tenant_id}, checked, actor,
                       ("alert_thresholds.set", tenant_id), expected_version)
