"""Read and edit a tenant's stage values and stage mappings (the operator API calls these).

Values are stored in minor units of the tenant's currency (``tenants.currency``; a tenant with
no row uses the caller's default). A stage without a row is worth its default, so a new tenant
works with no setup. Writes take an optional ``actor`` (the operator token's subject) and then
leave a row in ``operator_audit`` in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from schemas.money import Money
from schemas.pipeline import STAGES, VALUED_STAGES, Canonical, StageValues, ValuedStage
from streams.core.controls.audit import record_operator_action
from streams.core.controls.versioned import StaleVersion
from streams.core.db import Conn


async def tenant_currency(conn: Conn, tenant_id: str, default_currency: str = "USD") -> str:
    currency = await conn.fetchval("SELECT currency FROM tenants WHERE tenant_id = $1", tenant_id)
    return str(currency) if currency else default_currency


async def get_stage_values(conn: Conn, tenant_id: str, default_currency: str = "USD") -> StageValues:
    """The tenant's values, defaults filled in for stages it never set."""
    currency = await tenant_currency(conn, tenant_id, default_currency)
    values = StageValues.defaults(currency)
    rows = await conn.fetch("SELECT stage, value_minor FROM stage_values WHERE tenant_id = $1", tenant_id)
    overrides = {r["stage"]: int(r["value_minor"]) for r in rows}
    return StageValues(currency=currency, **{s: overrides.get(s, values.of(s)) for s in VALUED_STAGES})


def _minor(stage: str, value: int | Money, currency: str) -> int:
    if stage not in VALUED_STAGES:
        raise ValueError(f"unknown stage {stage!r}; valued stages are {', '.join(VALUED_STAGES)}")
    if isinstance(value, Money):
        if value.currency != currency:
            raise ValueError(f"{stage}: value in {value.currency}, but the tenant's currency is {currency}")
        return value.amount_minor
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{stage}: value must be a non-negative integer of minor units, got {value!r}")
    return value


async def stage_values_version(conn: Conn, tenant_id: str) -> int:
    """A number that grows with every write of the tenant's stage values (0: never set)."""
    return int(await conn.fetchval("SELECT coalesce(sum(version), 0) FROM stage_values WHERE tenant_id = $1",
                                   tenant_id))


async def set_stage_values(
    conn: Conn,
    tenant_id: str,
    values: Mapping[str, int | Money],
    actor: str | None = None,
    default_currency: str = "USD",
    expected_version: int | None = None,
) -> StageValues:
    """Set some or all stage values (minor units, or Money in the tenant's currency); returns them all.

    Raises ValueError (nothing written) for an unknown stage, a negative value or a wrong currency,
    and :class:`~streams.core.controls.versioned.StaleVersion` when ``expected_version`` (what
    :func:`stage_values_version` said when the values were shown) is no longer current.
    New values apply to stage changes from now on; credit already given is not revalued.
    """
    currency = await tenant_currency(conn, tenant_id, default_currency)
    checked = {stage: _minor(stage, value, currency) for stage, value in values.items()}
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('stage_values/' || $1))", tenant_id)
        if expected_version is not None:
            found = await stage_values_version(conn, tenant_id)
            if found != expected_version:
                raise StaleVersion(f"stage values of {tenant_id}", expected_version, found)
        for stage, minor in checked.items():
            await conn.execute(
                "INSERT INTO stage_values (tenant_id, stage, value_minor, updated_by) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (tenant_id, stage) DO UPDATE SET value_minor = $3, updated_by = $4, updated_at = now(),"
                " version = stage_values.version + 1",
                tenant_id, stage, minor, actor,
            )
        if actor is not None:
            await record_operator_action(conn, tenant_id, actor, "stage_values.set", tenant_id,
                                         {**checked, "currency": currency})
    return await get_stage_values(conn, tenant_id, default_currency)


async def get_stage_mappings(conn: Conn, tenant_id: str) -> dict[str, Canonical]:
    """The tenant's own CRM stage id -> canonical stage overrides (HubSpot's defaults apply beneath)."""
    rows = await conn.fetch("SELECT crm_stage_id, stage FROM stage_mappings WHERE tenant_id = $1", tenant_id)
    return {r["crm_stage_id"]: cast(Canonical, r["stage"]) for r in rows}


async def set_stage_mapping(conn: Conn, tenant_id: str, crm_stage_id: str, stage: str,
                            actor: str | None = None) -> None:
    """Map a CRM stage id (a custom pipeline's) onto lead / appointment / won / lost."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; stages are {', '.join(STAGES)}")
    if not crm_stage_id.strip():
        raise ValueError("crm_stage_id is empty")
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO stage_mappings (tenant_id, crm_stage_id, stage) VALUES ($1, $2, $3)"
            " ON CONFLICT (tenant_id, crm_stage_id) DO UPDATE SET stage = $3",
            tenant_id, crm_stage_id, stage,
        )
        if actor is not None:
            await record_operator_action(conn, tenant_id, actor, "stage_mapping.set", tenant_id,
                                         {"crm_stage_id": crm_stage_id, "stage": stage})


__all__ = [
    "ValuedStage",
    "get_stage_mappings",
    "get_stage_values",
    "set_stage_mapping",
    "set_stage_values",
    "tenant_currency",
]
