"""A refused Meta token is raised once per account by the sweep and resolved when Meta accepts it again."""

from __future__ import annotations

from typing import Any

import asyncpg
from pydantic import SecretStr

from streams.core.controls import ad_accounts
from streams.core.sealing import Sealer
from tests.alerts.conftest import T0, TENANT, Alerts


async def test_a_refused_token_alerts_once_per_account_and_resolves_when_accepted(
        alerts: Alerts, db_pool: asyncpg.Pool[Any]) -> None:
    sealer = Sealer(["a-credentials-key-of-length"])
    async with db_pool.acquire() as conn:
        for acc in ("act_1", "act_2"):
            await ad_accounts.save_account(conn, sealer, TENANT, acc, access_token=SecretStr("EAAB" + "x" * 20),
                                           app_secret=SecretStr("y" * 20), name="", actor="admin", now=T0)
        await ad_accounts.mark_refused(conn, TENANT, "act_2", "Meta error 190/460: session invalidated", T0)
    await alerts.sweep()
    await alerts.sweep()
    subject, title, detail = await db_pool.fetchrow(
        "SELECT subject, title, detail FROM alerts WHERE rule = 'meta_token_refused'")
    assert subject == "act_2" and "act_2" in title and "190/460" in detail and "x" * 20 not in detail
    async with db_pool.acquire() as conn:
        await ad_accounts.mark_ok(conn, TENANT, "act_2")
    await alerts.sweep()
    assert await alerts.notices("meta_token_refused") == [("meta_token_refused", "raised"),
                                                           ("meta_token_refused", "resolved")]
