"""``roasloop ingest ...`` writes what the ingress reads: key hashes, portal and host mappings."""

from __future__ import annotations

import asyncio

import pytest

from streams.cli import main
from streams.core.db import connect
from streams.core.settings import Settings
from streams.ingest.api_keys import key_hash


def test_setup_commands_write_what_the_ingress_reads(settings: Settings, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DATABASE_URL", settings.database_url or "")
    monkeypatch.setenv("ROASLOOP_DATABASE_SCHEMA", settings.database_schema)
    assert main(["ingest", "api-key", "issue", "acme", "--label", "site"]) == 0
    key = capsys.readouterr().out.strip()
    assert main(["ingest", "portal", "62515", "acme"]) == 0
    assert main(["ingest", "landing-hosts", "acme", "Shop.Acme.test", "*.acme.io"]) == 0
    assert main(["ingest", "api-key", "revoke", key]) == 0
    out = capsys.readouterr().out
    assert "portal 62515 -> acme" in out and "*.acme.io, shop.acme.test" in out and "revoked" in out
    assert key.startswith("rlk_")

    async def stored() -> tuple[object, ...]:
        conn = await connect(settings)
        try:
            return (await conn.fetchval("SELECT tenant_id FROM hubspot_portals WHERE portal_id = 62515"),
                    await conn.fetchval("SELECT landing_hosts FROM tenants WHERE tenant_id = 'acme'"),
                    await conn.fetchval("SELECT revoked_at IS NOT NULL FROM click_api_keys WHERE key_hash = $1",
                                        key_hash(key)))
        finally:
            await conn.close()

    assert asyncio.run(stored()) == ("acme", ["*.acme.io", "shop.acme.test"], True)
