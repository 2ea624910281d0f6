"""The web console's sign-in: an HttpOnly session cookie, CSRF on cookie writes, a page that needs no network."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from streams.console.endpoint import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE
from streams.core.settings import Settings
from tests.console.conftest import Console, console
from tests.jwt_issuer import Issuer

STATIC = Path(__file__).resolve().parents[2] / "streams" / "console" / "static"


@pytest.fixture
async def api(settings: Settings, jwks_url: str) -> AsyncIterator[Console]:
    async with console(settings, jwks_url) as con:
        yield con


async def sign_in(api: Console, issuer: Issuer, role: str) -> str:
    response = await api.client.post("/console/session", json={"id_token": issuer.token(role=role, sub="sam")})
    assert response.status_code == 200 and response.json()["role"] == role
    cookies = response.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith(SESSION_COOKIE + "="))
    assert {"HttpOnly", "Secure", "SameSite=strict"} <= {part.strip() for part in session.split(";")}
    assert "HttpOnly" not in next(c for c in cookies if c.startswith(CSRF_COOKIE + "="))
    return str(api.client.cookies[CSRF_COOKIE])


async def test_a_session_reads_and_writes_only_with_its_csrf_token(api: Console, issuer: Issuer) -> None:
    csrf = await sign_in(api, issuer, "EDITOR")
    assert (await api.client.get("/v1/me")).json() == {"sub": "sam", "role": "EDITOR", "tenants": None}
    body = {"mode": "shadow"}
    forged = await api.client.put("/v1/tenants/acme/automation", json=body)
    wrong = await api.client.put("/v1/tenants/acme/automation", json=body, headers={CSRF_HEADER: "guess"})
    right = await api.client.put("/v1/tenants/acme/automation", json=body, headers={CSRF_HEADER: csrf})
    assert (forged.status_code, wrong.status_code, right.status_code) == (403, 403, 200)
    assert (await api.client.delete("/console/session")).status_code == 204
    api.client.cookies.clear()
    assert (await api.client.get("/v1/me")).status_code == 401


async def test_a_viewer_session_cannot_write_whatever_the_page_sends(api: Console, issuer: Issuer) -> None:
    csrf = await sign_in(api, issuer, "VIEWER")
    response = await api.client.put("/v1/tenants/acme/automation", json={"mode": "shadow"},
                                    headers={CSRF_HEADER: csrf})
    assert response.status_code == 403


async def test_bad_sign_ins_are_refused(api: Console, issuer: Issuer) -> None:
    no_role = await api.client.post("/console/session", json={"id_token": issuer.token(role=None)})
    forged = await api.client.post("/console/session", json={"id_token": issuer.alg_none(role="ADMIN")})
    not_json = await api.client.post("/console/session", content=b"id_token=x",
                                     headers={"content-type": "application/x-www-form-urlencoded"})
    empty = await api.client.post("/console/session", json={})
    assert [r.status_code for r in (no_role, forged, not_json, empty)] == [403, 401, 415, 400]
    assert SESSION_COOKIE not in api.client.cookies


async def test_the_page_loads_only_its_own_files(api: Console) -> None:
    page = await api.client.get("/console/")
    assert page.status_code == 200 and "roasloop" in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    for asset in STATIC.iterdir():
        served = await api.client.get(f"/console/static/{asset.name}")
        assert served.status_code == 200 and served.content == asset.read_bytes()
        # no script, style, font or image from another origin (the Identity Toolkit is called by URL from config)
        assert not re.search(r"""(src|href)=["']https?://|@import|url\(\s*["']?https?:""", asset.read_text()), asset
    assert (await api.client.get("/console")).headers["location"] == "/console/"
