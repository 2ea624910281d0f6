"""Stage values and mappings per tenant, as the operator API reads and edits them."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from schemas import Money
from streams.core.controls.stage_values import get_stage_mappings, get_stage_values, set_stage_mapping, set_stage_values


async def test_a_new_tenant_gets_the_defaults_in_its_currency(db_pool: asyncpg.Pool[Any]) -> None:
    await db_pool.execute("INSERT INTO tenants (tenant_id, currency) VALUES ('yen', 'JPY')")
    async with db_pool.acquire() as conn:
        usd = await get_stage_values(conn, "nobody")
        jpy = await get_stage_values(conn, "yen")
    assert (usd.currency, usd.lead, usd.appointment, usd.won) == ("USD", 50_000, 150_000, 500_000)
    assert (jpy.currency, jpy.lead, jpy.appointment, jpy.won) == ("JPY", 500, 1_500, 5_000)


async def test_set_values_overrides_only_the_given_stages_and_is_audited(db_pool: asyncpg.Pool[Any]) -> None:
    async with db_pool.acquire() as conn:
        values = await set_stage_values(conn, "acme", {"lead": 12_345, "won": Money(amount_minor=900_000,
                                                                                      currency="USD")}, actor="ops@x")
        again = await get_stage_values(conn, "acme")
    assert values == again
    assert (again.lead, again.appointment, again.won) == (12_345, 150_000, 900_000)
    audit = await db_pool.fetchrow("SELECT actor, action, details FROM operator_audit WHERE tenant_id = 'acme'")
    assert (audit["actor"], audit["action"]) == ("ops@x", "stage_values.set")
    assert audit["details"]["lead"] == 12_345


@pytest.mark.parametrize(
    "bad", [{"demo": 1}, {"lead": -1}, {"lead": 1.5}, {"won": Money(amount_minor=1, currency="EUR")}]
)
async def test_invalid_values_are_refused_and_nothing_is_written(db_pool: asyncpg.Pool[Any], bad: Any) -> None:
    async with db_pool.acquire() as conn:
        with pytest.raises(ValueError):
            await set_stage_values(conn, "acme", {"appointment": 1, **bad})
    assert await db_pool.fetchval("SELECT count(*) FROM stage_values") == 0


async def test_custom_stage_mappings_are_stored_per_tenant(db_pool: asyncpg.Pool[Any]) -> None:
    async with db_pool.acquire() as conn:
        await set_stage_mapping(conn, "acme", "demo-booked", "appointment")
        with pytest.raises(ValueError):
            await set_stage_mapping(conn, "acme", "x", "maybe")
        assert await get_stage_mappings(conn, "acme") == {"demo-booked": "appointment"}
        assert await get_stage_mappings(conn, "other") == {}
