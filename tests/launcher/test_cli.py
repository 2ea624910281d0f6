"""``roasloop launcher reseal`` moves stored credentials to the newest key, printing no secret."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

from pydantic import SecretStr

from streams.core.controls import ad_accounts
from streams.core.sealing import Sealer
from streams.core.settings import Settings
from tests.meta_standin import START

OLD, NEW = "old-credentials-key-0123456789", "new-credentials-key-0123456789"


async def test_reseal_moves_every_account_to_the_newest_key(settings: Settings, db_pool: Any) -> None:
    async with db_pool.acquire() as conn:
        await ad_accounts.save_account(conn, Sealer([OLD]), "acme", "act_1", access_token=SecretStr("EAAB" + "t" * 30),
                                       app_secret=SecretStr("s" * 20), name="", actor="admin", now=START)
    env = {"DATABASE_URL": settings.database_url or "", "ROASLOOP_DATABASE_SCHEMA": settings.database_schema,
           "ROASLOOP_CREDENTIALS_KEYS": f"{NEW},{OLD}", "PATH": "/usr/bin:/bin"}
    done = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "streams.cli", "launcher", "reseal"],
                                   env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "re-sealed 1 ad account(s)" in done.stderr and "t" * 30 not in done.stdout + done.stderr
    async with db_pool.acquire() as conn:
        creds = await ad_accounts.credentials_for(conn, Sealer([NEW]), "acme", "act_1")
    assert creds is not None and creds.access_token.get_secret_value() == "EAAB" + "t" * 30
