"""Writing guardrail overrides and entity bounds: validated, audited, versioned.

``roasloop executor limits set`` calls these, and the operator API will; the executor and the
backtest read what they write through :mod:`streams.core.controls.limits`. Every write

- refuses a value outside :class:`~streams.core.controls.limits.GuardrailSettings`' bounds (the
  tables' CHECKs say the same) with a ``ValueError`` naming the field, before anything is written,
  so a typo is an error message, not a constraint violation or a limit nobody meant;
- leaves an ``operator_audit`` row in the same transaction;
- bumps the row's ``version`` and refuses a stale one (:mod:`streams.core.controls.versioned`).

A value of ``None`` clears a field: the layer beneath applies again.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import NonNegativeInt, TypeAdapter, ValidationError

from streams.core.controls.limits import OVERRIDABLE, TENANT_WIDE, GuardrailSettings
from streams.core.controls.versioned import field_adapter, save_row
from streams.core.db import Conn

BOUND_FIELDS = ("floor_minor", "cap_minor")
_COLUMN_MAX = {"max_changes_per_entity_hour": 2**31 - 1, "max_actions_per_campaign_hour": 2**31 - 1}
"""Integer columns narrower than the bigint every other integer here is stored in."""
_BIGINT_MAX = 2**63 - 1


_CHECKS: dict[str, TypeAdapter[Any]] = {
    **{name: field_adapter(info) for name, info in GuardrailSettings.model_fields.items() if name in OVERRIDABLE},
    **dict.fromkeys(BOUND_FIELDS, TypeAdapter(NonNegativeInt)),
}


def _checked(name: str, value: object) -> Any:
    """``value`` as it is stored, or a ValueError naming ``name``."""
    if value is None:
        return None
    if isinstance(value, bool):  # pydantic would read True as 1
        raise ValueError(f"{name}: {value!r} is not a limit")
    try:
        checked = _CHECKS[name].validate_python(value)
    except ValidationError as exc:
        raise ValueError(f"{name}: {exc.errors()[0]['msg'].lower()}, got {value!r}") from None
    if isinstance(checked, int) and checked > _COLUMN_MAX.get(name, _BIGINT_MAX):
        raise ValueError(f"{name}: {checked} is too large to store")
    return Decimal(str(checked)) if isinstance(checked, float) else checked  # numeric columns: 0.35 stays 0.35


def check_changes(changes: Mapping[str, object], allowed: tuple[str, ...]) -> dict[str, Any]:
    """Validate every change (nothing is written when one is bad); returns them as they are stored."""
    if not changes:
        raise ValueError(f"nothing to set: give one of {', '.join(allowed)}")
    unknown = [name for name in changes if name not in allowed]
    if unknown:
        raise ValueError(f"{unknown[0]}: not a settable limit here; those are {', '.join(allowed)}")
    return {name: _checked(name, value) for name, value in changes.items()}


def _floor_not_above_cap(row: Mapping[str, Any]) -> None:
    floor, cap = row.get("floor_minor"), row.get("cap_minor")
    if floor is not None and cap is not None and floor > cap:
        raise ValueError(f"floor_minor: {floor} is above cap_minor {cap}")


async def save_override(conn: Conn, tenant_id: str, campaign_id: str, changes: Mapping[str, object], actor: str,
                        expected_version: int | None = None) -> int:
    """Set (or with ``None`` clear) limits for a tenant (``campaign_id`` ``""``) or one campaign.

    ``changes`` maps :data:`~streams.core.controls.limits.OVERRIDABLE` names (the settings' names:
    ``change_window_hours``, ``max_change_fraction`` ...) to values. Returns the row's new version.
    """
    checked = check_changes(changes, OVERRIDABLE)
    key = {"tenant_id": tenant_id, "campaign_id": campaign_id or TENANT_WIDE}
    return await save_row(conn, "guardrail_overrides", key, checked, actor,
                       ("guardrail_override.set", key["campaign_id"]), expected_version)


async def save_entity_bounds(conn: Conn, tenant_id: str, entity_id: str, changes: Mapping[str, object], actor: str,
                             expected_version: int | None = None) -> int:
    """Set (or with ``None`` clear) an entity's ``floor_minor`` and ``cap_minor`` (minor units).

    The floor may not end above the cap, counting the bound that is not being changed.
    """
    if not entity_id:
        raise ValueError("entity_id: empty")
    checked = check_changes(changes, BOUND_FIELDS)
    return await save_row(conn, "executor_entity_limits", {"tenant_id": tenant_id, "entity_id": entity_id}, checked,
                       actor, ("entity_bounds.set", entity_id), expected_version, check=_floor_not_above_cap)
