"""Pause, resume and re-bid through the operator API and the launcher: applied on Meta, audited,
one outcome each, blocked by the kill switch and by the per-change-type hourly limit."""

from __future__ import annotations

from typing import Any

from streams.assets import AssetLibrary
from streams.core.controls import killswitch
from streams.core.settings import Settings
from streams.lab.sandbox.meta_state import MetaState
from tests.jwt_issuer import Issuer
from tests.launcher.conftest import meta_world, stack, store_accounts
from tests.launcher.test_launch_flow import launch


def change(request_id: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"request_id": request_id, "account_id": "act_11", "spec": spec}


async def test_pause_resume_and_bid_changes_are_applied_audited_and_limited_per_type(
        settings: Settings, jwks_url: str, issuer: Issuer, meta_url: str, meta_state: MetaState,
        library: AssetLibrary, db_pool: Any) -> None:
    meta_world(meta_state)
    meta_state.add_adset("301", "c1", 5_000)
    await store_accounts(settings, db_pool, ("acme", "act_11"))
    async with stack(settings, jwks_url, meta_url, library) as s:
        paused = await launch(s, issuer, change("p1", {"kind": "status", "entity_id": "301", "status": "PAUSED",
                                                      "reason": "below break-even"}))
        state_after_pause = meta_state.adsets["301"].status
        resumed = await launch(s, issuer, change("p2", {"kind": "status", "entity_id": "301", "status": "ACTIVE"}))
        bids = [await launch(s, issuer, change(f"b{i}", {"kind": "bid", "entity_id": "301",
                                                         "bid_strategy": "COST_CAP", "bid_amount_minor": 300 + i}))
                for i in range(3)]
    assert (paused["status"], state_after_pause, resumed["status"]) == ("applied", "PAUSED", "applied")
    assert meta_state.adsets["301"].status == "ACTIVE"
    assert [b["status"] for b in bids] == ["applied", "applied", "blocked"]  # 2 bid changes an hour by default
    assert "limit is 2" in bids[2]["error"]
    assert (meta_state.adsets["301"].bid_strategy, meta_state.adsets["301"].bid_amount) == ("COST_CAP", 301)
    audited = await db_pool.fetch("SELECT target FROM operator_audit WHERE action = 'launch_requested'")
    assert sorted(r["target"] for r in audited) == ["b0", "b1", "b2", "p1", "p2"]


async def test_the_kill_switch_blocks_a_pause_and_meta_is_not_called(
        settings: Settings, jwks_url: str, issuer: Issuer, meta_url: str, meta_state: MetaState,
        library: AssetLibrary, db_pool: Any) -> None:
    meta_world(meta_state)
    meta_state.add_adset("301", "c1", 5_000)
    await store_accounts(settings, db_pool, ("acme", "act_11"))
    await db_pool.execute("INSERT INTO entity_groups (tenant_id, entity_id, group_id, campaign_id)"
                          " VALUES ('acme', '301', 'c1', 'c1')")
    async with db_pool.acquire() as conn:
        await killswitch.pause(conn, "acme", "c1", "admin", "incident")
    calls = len(meta_state.requests)
    async with stack(settings, jwks_url, meta_url, library) as s:
        row = await launch(s, issuer, change("k1", {"kind": "status", "entity_id": "301", "status": "PAUSED"}))
    assert row["status"] == "blocked" and "kill switch" in row["error"]
    assert meta_state.adsets["301"].status == "ACTIVE" and len(meta_state.requests) == calls
