"""``roasloop launcher reseal``: rotate the key that seals stored ad-account credentials.

Rotation in three steps, none of which stops a stage: put the new key first in
``ROASLOOP_CREDENTIALS_KEYS`` (old keys after it still open what they sealed) and roll the stages;
run this command, which re-seals every credential not sealed with the newest key; drop the old key.
It prints how many accounts moved, never a secret.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "launcher", help="the launcher's operator commands (credential key rotation)")
    commands = parser.add_subparsers(dest="launcher_command", required=True)
    reseal = commands.add_parser("reseal", help="re-seal stored ad-account credentials with the newest key of "
                                                "ROASLOOP_CREDENTIALS_KEYS")
    reseal.set_defaults(func=run_reseal)


def run_reseal(args: argparse.Namespace) -> int:
    from streams.core.controls.ad_accounts import reseal_all
    from streams.core.db import connect
    from streams.core.sealing import Sealer
    from streams.core.settings import load_settings

    settings = load_settings()
    settings.require("database_url", "credentials_keys")
    sealer = Sealer.from_setting(settings.credentials_keys)
    assert sealer is not None

    async def run() -> int:
        conn = await connect(settings)
        try:
            return await reseal_all(conn, sealer)
        finally:
            await conn.close()

    moved = asyncio.run(run())
    print(f"re-sealed {moved} ad account(s) with key {sealer.key_id}", file=sys.stderr)
    return 0
