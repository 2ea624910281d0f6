"""Setting guardrail overrides and entity bounds: validated, audited, versioned."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from streams.core.controls.limit_overrides import check_changes, save_entity_bounds, save_override
from streams.core.controls.limits import OVERRIDABLE, GuardrailSettings, Limits, load_layers, load_limits
from streams.core.controls.versioned import StaleVersion

DEFAULTS = GuardrailSettings()


async def test_a_campaign_window_override_is_what_the_executor_reads_and_is_audited(
    db_pool: asyncpg.Pool[Any],
) -> None:
    async with db_pool.acquire() as conn:
        assert await save_override(conn, "acme", "", {"policy": "block"}, actor="ops@x") == 1
        assert await save_override(conn, "acme", "c1", {"change_window_hours": 24}, actor="ops@x") == 1
        assert await load_limits(conn, DEFAULTS, "acme", "c1", "as1") == Limits(
            change_window=timedelta(hours=24), policy="block")
        assert await save_override(conn, "acme", "c1", {"change_window_hours": None}, actor="ops@y") == 2
        cleared = await load_limits(conn, DEFAULTS, "acme", "c1", "as1")
    assert cleared == Limits(policy="block")  # back to the settings' 6 h, the tenant's policy stays
    audit = await db_pool.fetch("SELECT actor, action, target, details FROM operator_audit ORDER BY id")
    assert [(a["actor"], a["action"], a["target"]) for a in audit] == [
        ("ops@x", "guardrail_override.set", ""), ("ops@x", "guardrail_override.set", "c1"),
        ("ops@y", "guardrail_override.set", "c1")]
    assert audit[1]["details"] == {"tenant_id": "acme", "campaign_id": "c1", "changes": {"change_window_hours": 24.0},
                                   "version": 1}


async def test_a_stale_expected_version_is_refused_and_nothing_is_written(db_pool: asyncpg.Pool[Any]) -> None:
    async with db_pool.acquire() as conn:
        with pytest.raises(StaleVersion) as missing:
            await save_override(conn, "acme", "c1", {"policy": "block"}, actor="a", expected_version=1)
        assert (missing.value.expected, missing.value.found) == (1, 0)
        assert await save_override(conn, "acme", "c1", {"policy": "block"}, actor="a", expected_version=0) == 1
        assert await save_override(conn, "acme", "c1", {"max_change_fraction": 0.35}, actor="b",
                                   expected_version=1) == 2
        with pytest.raises(StaleVersion, match="version 2, not 1"):
            await save_override(conn, "acme", "c1", {"policy": "clamp"}, actor="a", expected_version=1)
        layers = await load_layers(conn, "acme", "c1", "as1")
    assert layers.campaign is not None and layers.campaign.policy == "block"
    assert layers.versions == {"campaign": 2}
    assert await db_pool.fetchval("SELECT count(*) FROM operator_audit") == 2


@pytest.mark.parametrize(("changes", "named"), [
    ({"change_window_hours": 0}, "change_window_hours"),
    ({"change_window_hours": 168.5}, "change_window_hours"),
    ({"change_window_hours": "a day"}, "change_window_hours"),
    ({"max_change_fraction": -0.01}, "max_change_fraction"),
    ({"max_change_fraction": 10.01}, "max_change_fraction"),
    ({"policy": "maybe"}, "policy"),
    ({"max_changes_per_entity_hour": -1}, "max_changes_per_entity_hour"),
    ({"max_changes_per_entity_hour": 2.5}, "max_changes_per_entity_hour"),
    ({"max_actions_per_campaign_hour": True}, "max_actions_per_campaign_hour"),
    ({"max_actions_per_campaign_hour": 2**31}, "max_actions_per_campaign_hour"),
    ({"platform_min_budget_minor": -1}, "platform_min_budget_minor"),
    ({"policy": "block", "change_window": 24}, "change_window"),
    ({}, "nothing to set"),
])
async def test_a_bad_override_names_the_field_and_writes_nothing(
    db_pool: asyncpg.Pool[Any], changes: dict[str, Any], named: str
) -> None:
    async with db_pool.acquire() as conn:
        with pytest.raises(ValueError, match=f"^{named}"):
            await save_override(conn, "acme", "c1", changes, actor="a")
    assert await db_pool.fetchval("SELECT count(*) FROM guardrail_overrides") == 0
    assert await db_pool.fetchval("SELECT count(*) FROM operator_audit") == 0


@pytest.mark.parametrize(("field", "refused", "accepted"), [
    ("max_changes_per_entity_hour", -1, 0),
    ("max_actions_per_campaign_hour", -1, 0),
    ("max_change_fraction", -0.5, 0),
    ("max_change_fraction", 10.5, 10),
    ("change_window_hours", 0, 0.5),
    ("change_window_hours", 168.5, 168),
    ("policy", "maybe", "block"),
    ("platform_min_budget_minor", -1, 0),
])
async def test_the_settings_bounds_and_the_table_checks_agree(
    db_pool: asyncpg.Pool[Any], field: str, refused: Any, accepted: Any
) -> None:
    """An override is checked against the settings' bounds; the table's CHECKs must refuse the same."""
    assert field in OVERRIDABLE
    with pytest.raises(ValueError, match=f"^{field}"):
        check_changes({field: refused}, OVERRIDABLE)
    insert = f"INSERT INTO guardrail_overrides (tenant_id, campaign_id, {field}) VALUES ('acme', $1, $2)"
    with pytest.raises(asyncpg.CheckViolationError):
        await db_pool.execute(insert, "refused", refused)
    await db_pool.execute(insert, "accepted", check_changes({field: accepted}, OVERRIDABLE)[field])


async def test_entity_bounds_keep_the_floor_at_or_below_the_cap(db_pool: asyncpg.Pool[Any]) -> None:
    async with db_pool.acquire() as conn:
        assert await save_entity_bounds(conn, "acme", "as1", {"cap_minor": 10_000}, actor="a") == 1
        with pytest.raises(ValueError, match="^floor_minor: 12000 is above cap_minor 10000"):
            await save_entity_bounds(conn, "acme", "as1", {"floor_minor": 12_000}, actor="a")
        with pytest.raises(ValueError, match="^cap_minor"):
            await save_entity_bounds(conn, "acme", "as1", {"cap_minor": -5}, actor="a")
        with pytest.raises(ValueError, match="^policy"):
            await save_entity_bounds(conn, "acme", "as1", {"policy": "block"}, actor="a")
        assert await save_entity_bounds(conn, "acme", "as1", {"floor_minor": 9_000}, actor="a",
                                        expected_version=1) == 2
        with pytest.raises(StaleVersion):
            await save_entity_bounds(conn, "acme", "as1", {"floor_minor": 8_000}, actor="b", expected_version=1)
        limits = await load_limits(conn, DEFAULTS, "acme", "c1", "as1")
    assert (limits.floor_minor, limits.cap_minor) == (9_000, 10_000)
    audit = await db_pool.fetch("SELECT action, target, details FROM operator_audit ORDER BY id")
    assert [(a["action"], a["target"], a["details"]["version"]) for a in audit] == [
        ("entity_bounds.set", "as1", 1), ("entity_bounds.set", "as1", 2)]
    with pytest.raises(asyncpg.CheckViolationError):  # the table refuses it too, whoever writes
        await db_pool.execute("UPDATE executor_entity_limits SET floor_minor = 20000")
