"""Guardrail limits: settings, then the tenant's override, then the campaign's, then the entity's bounds."""

from __future__ import annotations

import shutil
import uuid
from dataclasses import fields
from datetime import timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import asyncpg

from streams.core.controls.limits import (
    GuardrailSettings,
    Limits,
    LimitsBook,
    Override,
    load_layers,
    load_limits,
)
from streams.core.migrate import default_directory, migrate
from streams.executor.settings import ExecutorSettings

DEFAULTS = GuardrailSettings(change_window_hours=6, max_change_fraction=0.2, policy="clamp")


def test_each_layer_overrides_only_the_limits_it_sets() -> None:
    tenant = Override(change_window_hours=12, policy="block", max_actions_per_campaign_hour=3)
    campaign = Override(change_window_hours=24)
    layers = LimitsBook(DEFAULTS, overrides={("acme", ""): tenant, ("acme", "c1"): campaign}).layers_for(
        "acme", "c1", "as1")
    limits = layers.limits(DEFAULTS)
    assert limits == Limits(max_changes_per_entity_hour=4, max_actions_per_campaign_hour=3,
                            max_change_fraction=Fraction(1, 5), change_window=timedelta(hours=24), policy="block",
                            platform_min_budget_minor=100)
    assert layers.sources() == {
        "max_changes_per_entity_hour": "settings", "max_actions_per_campaign_hour": "tenant",
        "max_change_fraction": "settings", "change_window_hours": "campaign", "policy": "tenant",
        "platform_min_budget_minor": "settings", "floor_minor": "none", "cap_minor": "none",
    }


def test_an_override_can_set_exactly_the_settings_the_executor_reads() -> None:
    assert [f.name for f in fields(Override)] == list(GuardrailSettings.model_fields)
    executor = ExecutorSettings()
    assert {n: getattr(executor, n) for n in GuardrailSettings.model_fields} == GuardrailSettings().model_dump()


async def _store_layers(pool: asyncpg.Pool[Any]) -> None:
    await pool.execute("INSERT INTO guardrail_overrides (tenant_id, campaign_id, change_window_hours, policy, "
                       "max_change_fraction) VALUES ('acme', '', 12, 'block', 0.333333333333333333)")
    await pool.execute("INSERT INTO guardrail_overrides (tenant_id, campaign_id, change_window_hours) "
                       "VALUES ('acme', 'c1', 24), ('other', 'c1', 48)")
    await pool.execute("INSERT INTO executor_entity_limits (tenant_id, entity_id, floor_minor, cap_minor) "
                       "VALUES ('acme', 'as1', 500, NULL)")


async def test_the_executor_and_the_backtest_book_read_the_same_limits(db_pool: asyncpg.Pool[Any]) -> None:
    await _store_layers(db_pool)
    async with db_pool.acquire() as conn:
        book = await LimitsBook.load(conn, DEFAULTS)
        keys = [("acme", "c1", "as1"), ("acme", "c2", "as2"), ("other", "c1", "as1"), ("new", "c1", "as1")]
        live = {key: await load_limits(conn, DEFAULTS, *key) for key in keys}
        layers = await load_layers(conn, "acme", "c1", "as1")
    assert {key: book.limits_for(*key) for key in keys} == live
    assert live[("acme", "c1", "as1")] == Limits(
        max_change_fraction=Fraction("0.333333333333333333"),  # exactly as stored, not through a float
        change_window=timedelta(hours=24), policy="block", floor_minor=500)
    assert live[("acme", "c2", "as2")].change_window == timedelta(hours=12)
    assert live[("other", "c1", "as1")] == Limits(change_window=timedelta(hours=48))
    assert live[("new", "c1", "as1")] == Limits()
    assert layers.sources()["change_window_hours"] == "campaign"
    assert (layers.sources()["floor_minor"], layers.sources()["cap_minor"]) == ("entity", "none")
    assert dict(layers.versions) == {"tenant": 1, "campaign": 1, "entity": 1}
    assert book.describe()["source"] == "postgresql"
    assert [(o["tenant_id"], o["campaign_id"]) for o in book.describe()["overrides"]] == [
        ("acme", ""), ("acme", "c1"), ("other", "c1")]


async def test_a_book_of_some_tenants_holds_only_theirs(db_pool: asyncpg.Pool[Any]) -> None:
    await _store_layers(db_pool)
    async with db_pool.acquire() as conn:
        book = await LimitsBook.load(conn, DEFAULTS, tenants=["other"])
    assert list(book.overrides) == [("other", "c1")] and book.bounds == {}


async def test_the_old_tenant_limits_become_tenant_wide_overrides(pg_url: str, tmp_path: Path) -> None:
    for path in default_directory().glob("*.sql"):
        if path.name < "0011":
            shutil.copy(path, tmp_path)
    schema = f"m_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(pg_url)
    try:
        await migrate(conn, schema, tmp_path)
        await conn.execute("INSERT INTO executor_tenant_limits (tenant_id, max_actions_per_campaign_hour, policy, "
                           "max_change_fraction) VALUES ('acme', 3, 'block', 0.5), ('wild', NULL, NULL, 25)")
        applied = await migrate(conn, schema)
        rows = await conn.fetch("SELECT * FROM guardrail_overrides ORDER BY tenant_id")
        gone = await conn.fetchval("SELECT to_regclass('executor_tenant_limits')")
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    finally:
        await conn.close()
    assert [m.name for m in applied][:1] == ["guardrail_overrides"]
    assert gone is None
    assert [(r["tenant_id"], r["campaign_id"], r["version"]) for r in rows] == [("acme", "", 1), ("wild", "", 1)]
    assert Override.from_row(rows[0]) == Override(max_actions_per_campaign_hour=3, policy="block",
                                                  max_change_fraction=Fraction(1, 2))
    assert Override.from_row(rows[1]) == Override(max_change_fraction=Fraction(10))  # capped at the settings' bound
