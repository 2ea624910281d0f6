"""Ad accounts in the operator API: an admin stores credentials sealed, nobody ever reads them back,
bad input is a 4xx naming the field, and without a sealing key nothing is stored in the clear."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from pydantic import SecretStr

from streams.core.settings import Settings
from tests.console.conftest import Console, console
from tests.console.test_api import auth
from tests.jwt_issuer import Issuer

TOKEN, SECRET = "EAAB-very-secret-system-user-token", "app-secret-0123456789"
BODY = {"access_token": TOKEN, "app_secret": SECRET, "name": "Brand US"}


@pytest.fixture
async def api(settings: Settings, jwks_url: str) -> AsyncIterator[Console]:
    async with console(settings, jwks_url, credentials_keys=SecretStr("k" * 32)) as con:
        yield con


async def test_an_admin_stores_an_account_sealed_and_no_answer_or_row_repeats_a_secret(
        api: Console, issuer: Issuer, db_pool: asyncpg.Pool[Any]) -> None:
    path = "/v1/tenants/acme/ad-accounts/act_123"
    assert (await api.client.put(path, json=BODY, headers=auth(issuer, "EDITOR"))).status_code == 403
    saved = await api.client.put(path, json=BODY, headers=auth(issuer, "ADMIN", sub="alice"))
    assert saved.status_code == 200 and saved.json()["status"] == "ok" and saved.json()["version"] == 1
    listed = await api.client.get("/v1/tenants/acme/ad-accounts", headers=auth(issuer, "VIEWER"))
    assert [a["account_id"] for a in listed.json()["accounts"]] == ["act_123"]
    rows = await db_pool.fetch("SELECT * FROM meta_ad_accounts")
    audit = await db_pool.fetch("SELECT actor, details::text AS d FROM operator_audit")
    everything = saved.text + listed.text + str([dict(r) for r in rows]) + str([dict(r) for r in audit])
    assert TOKEN not in everything and SECRET not in everything and "EAAB" not in everything
    assert [r["actor"] for r in audit] == ["alice"]


@pytest.mark.parametrize(("path", "body", "field"), [
    ("act_12x", BODY, "account_id"),
    ("act_123", {**BODY, "access_token": "short"}, "access_token"),
    ("act_123", {"access_token": TOKEN}, "app_secret"),
    ("act_123", {**BODY, "extra": 1}, "extra"),
])
async def test_bad_input_is_a_400_naming_the_field(api: Console, issuer: Issuer, path: str, body: dict[str, Any],
                                                   field: str) -> None:
    r = await api.client.put(f"/v1/tenants/acme/ad-accounts/{path}", json=body, headers=auth(issuer, "ADMIN"))
    assert r.status_code == 400 and field in r.text and TOKEN not in r.text


async def test_another_tenants_account_is_a_409(api: Console, issuer: Issuer) -> None:
    headers = auth(issuer, "ADMIN", tenants=["acme", "globex"])
    assert (await api.client.put("/v1/tenants/acme/ad-accounts/act_5", json=BODY, headers=headers)).status_code == 200
    r = await api.client.put("/v1/tenants/globex/ad-accounts/act_5", json=BODY, headers=headers)
    assert r.status_code == 409


async def test_without_a_sealing_key_nothing_is_stored(settings: Settings, jwks_url: str, issuer: Issuer,
                                                       db_pool: asyncpg.Pool[Any]) -> None:
    async with console(settings, jwks_url) as con:
        r = await con.client.put("/v1/tenants/acme/ad-accounts/act_1", json=BODY, headers=auth(issuer, "ADMIN"))
    assert r.status_code == 503 and "ROASLOOP_CREDENTIALS_KEYS" in r.text
    assert await db_pool.fetchval("SELECT count(*) FROM meta_ad_accounts") == 0
