"""Many ad accounts per tenant: each polled with its own sealed credentials, a refused token marked
and alerted while the other accounts go on, and no secret in any row, topic or log."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from schemas.topics import SPEND
from streams.core.controls import ad_accounts
from streams.core.db import create_pool
from streams.core.sealing import CannotOpen, Sealer
from streams.core.settings import Settings
from streams.ingest import context
from streams.ingest.insights_poller import InsightsPoller
from streams.ingest.settings import IngestSettings
from streams.lab.sandbox.meta import create_meta_app
from streams.lab.sandbox.meta_state import InsightsRow, MetaState
from tests.helpers import read_records
from tests.ingest.conftest import ingress
from tests.ingest.test_insights_poller import GRAPH, TODAY, FrozenDay

KEY = "k" * 32
ACCOUNTS = {"acme": ("11", "12"), "globex": ("21", "22")}


def token(account: str) -> str:
    return f"EAAB-secret-token-{account}"


@pytest.fixture
def meta() -> MetaState:
    """Four accounts; each token may use only its own account (as a system user per client would)."""
    state = MetaState(clock=lambda: TODAY)
    for accounts in ACCOUNTS.values():
        for acc in accounts:
            state.add_account(acc)
            state.add_campaign(f"c{acc}", acc)
            state.add_adset(f"as{acc}", f"c{acc}", daily_budget=5_000)
            state.record_insights(InsightsRow(date(2026, 5, 3), acc, f"c{acc}", f"as{acc}", f"ad{acc}", 700, 90, 3))
            state.grant(token(acc), f"app-secret-{acc}", acc)
    return state


async def store_all(settings: Settings, sealer: Sealer, accounts: dict[str, tuple[str, ...]]) -> None:
    pool = await create_pool(settings, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            for tenant, accs in accounts.items():
                for acc in accs:
                    await ad_accounts.save_account(conn, sealer, tenant, acc, access_token=SecretStr(token(acc)),
                                                   app_secret=SecretStr(f"app-secret-{acc}"), name=f"Account {acc}",
                                                   actor="admin-1", now=TODAY)
    finally:
        await pool.close()


async def test_each_tenants_accounts_are_polled_with_their_own_credentials_and_a_revoked_one_is_marked(
        settings: Settings, meta: MetaState, capsys: pytest.CaptureFixture[str]) -> None:
    sealer = Sealer([KEY])
    await store_all(settings, sealer, ACCOUNTS)
    meta.revoke(token("12"))
    transports = context.Transports(meta=httpx.ASGITransport(app=create_meta_app(meta)))
    async with ingress(settings, IngestSettings(), transports, clock=FrozenDay(), meta_graph_url=GRAPH,
                       credentials_keys=SecretStr(KEY)) as ing:
        records = await read_records(settings, SPEND, min_count=3, timeout=5)
        poller: InsightsPoller = ing.stage.running().poller
        pool = ing.runner.resources.pool
        listed = {a["account_id"]: a for t in ACCOUNTS for a in await ad_accounts.list_accounts(pool, t)}
        rows = await pool.fetch("SELECT * FROM meta_ad_accounts")
        audit = await pool.fetch("SELECT details::text AS d FROM operator_audit")
        meta.grants[token("12")].revoked = False  # a person re-issued access: the next poll clears the mark
        await poller.poll_once()
        cleared = await pool.fetchval("SELECT status FROM meta_ad_accounts WHERE account_id = 'act_12'")
    by_entity = {r.key.decode().split(":")[0] + "/" + r.value.decode().split('"entity_id":"')[1].split('"')[0]
                 for r in records}
    assert by_entity == {"acme/as11", "globex/as21", "globex/as22"}
    assert listed["act_12"]["status"] == "refused" and "190" in listed["act_12"]["refused_reason"]
    assert {a for a, v in listed.items() if v["status"] == "ok"} == {"act_11", "act_21", "act_22"}
    assert cleared == "ok"
    secrets = [token(a) for accs in ACCOUNTS.values() for a in accs] + ["app-secret-11"]
    dumped = " ".join(str(dict(r)) for r in rows) + str(listed) + " ".join(r["d"] for r in audit)
    dumped += " ".join(r.value.decode() for r in records) + "".join(capsys.readouterr())
    assert not [s for s in secrets if s in dumped]


async def test_an_account_belongs_to_one_tenant(db_pool: Any) -> None:
    sealer = Sealer([KEY])
    async with db_pool.acquire() as conn:
        await ad_accounts.save_account(conn, sealer, "acme", "act_11", access_token=SecretStr("t" * 20),
                                       app_secret=SecretStr("s" * 20), name="", actor="a", now=TODAY)
        with pytest.raises(ad_accounts.AccountTaken):
            await ad_accounts.save_account(conn, sealer, "globex", "11", access_token=SecretStr("u" * 20),
                                           app_secret=SecretStr("v" * 20), name="", actor="b", now=TODAY)
        assert await ad_accounts.credentials_for(conn, sealer, "globex", "act_11") is None
        creds = await ad_accounts.credentials_for(conn, sealer, "acme", "act_11")
    assert creds is not None and creds.access_token.get_secret_value() == "t" * 20


async def test_rotation_reseals_with_the_new_key_and_the_old_key_can_then_go(db_pool: Any) -> None:
    old, new = "old-key-" + "o" * 16, "new-key-" + "n" * 16
    async with db_pool.acquire() as conn:
        await ad_accounts.save_account(conn, Sealer([old]), "acme", "act_11", access_token=SecretStr("t" * 20),
                                       app_secret=SecretStr("s" * 20), name="", actor="a", now=TODAY)
        with pytest.raises(CannotOpen):
            await ad_accounts.credentials_for(conn, Sealer([new]), "acme", "act_11")
        assert await ad_accounts.reseal_all(conn, Sealer([new, old])) == 1
        creds = await ad_accounts.credentials_for(conn, Sealer([new]), "acme", "act_11")
    assert creds is not None and creds.app_secret.get_secret_value() == "s" * 20
