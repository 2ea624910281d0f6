"""The launcher and the console together, against the Meta stand-in over HTTP, with a real asset library."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from streams.assets import AssetLibrary
from streams.console.app import ConsoleStage
from streams.console.settings import ConsoleSettings
from streams.core.controls import ad_accounts
from streams.core.http import build_asgi
from streams.core.sealing import Sealer
from streams.core.settings import Settings
from streams.core.stage import StageRunner
from streams.core.storage import LocalStorage
from streams.lab.sandbox.meta_state import MetaState
from streams.launcher.app import LauncherStage
from tests.helpers import running_stages
from tests.jwt_issuer import PROJECT
from tests.meta_standin import START

KEY = "launcher-test-credentials-key"
CLICKS = "https://go.acme.test"
VIDEO = b"\x00\x00\x00\x18ftypmp42" + b"\x01" * 2000
IMAGE = b"\x89PNG\r\n\x1a\n" + b"\x02" * 500


@dataclass
class Stack:
    runner: StageRunner
    client: httpx.AsyncClient
    settings: Settings
    library: AssetLibrary


def meta_world(state: MetaState) -> None:
    """Two tenants, two accounts each, each account its own token; plus acme's existing campaign c1."""
    for acc in ("11", "12", "21", "22"):
        state.add_account(acc, min_daily_budget_minor=100)
        state.grant(f"EAAB-token-{acc}-secret", f"app-secret-{acc}", acc)
    state.add_campaign("c1", "11")


@pytest.fixture
def library(tmp_path: Path) -> AssetLibrary:
    lib = AssetLibrary(LocalStorage(tmp_path / "storage"))
    lib.register(VIDEO, name="demo.mp4", type="video", category="demos", asset_id="vid1", now=START,
                 media={"duration_s": 12, "codec": "h264", "width": 1080, "height": 1920, "frame_rate": 30,
                        "bitrate_kbps": 4000})
    lib.register(IMAGE, name="hero.png", type="image", category="stills", asset_id="img1", now=START,
                 media={"format": "png", "width": 1080, "height": 1080})
    return lib


async def store_accounts(settings: Settings, pool: Any, *accounts: tuple[str, str]) -> None:
    sealer = Sealer([KEY])
    async with pool.acquire() as conn:
        for tenant, acc in accounts:
            digits = acc.removeprefix("act_")
            await ad_accounts.save_account(conn, sealer, tenant, acc,
                                           access_token=SecretStr(f"EAAB-token-{digits}-secret"),
                                           app_secret=SecretStr(f"app-secret-{digits}"), name="", actor="admin",
                                           now=START)


@contextlib.asynccontextmanager
async def stack(settings: Settings, jwks_url: str, meta_url: str, library: AssetLibrary,
                **overrides: Any) -> AsyncIterator[Stack]:
    s = settings.model_copy(update={
        "firebase_project_id": PROJECT, "firebase_jwks_url": jwks_url, "meta_graph_url": meta_url,
        "credentials_keys": SecretStr(KEY), "public_base_url": CLICKS,
        "storage_dir": str(library.storage.root),  # type: ignore[attr-defined]
    } | overrides)
    stages = [ConsoleStage(ConsoleSettings(publish_timeout_seconds=5)), LauncherStage(storage=library.storage)]
    async with running_stages(s, stages) as runner:
        app = build_asgi(runner, manage_lifecycle=False)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://console.internal") as c:
            yield Stack(runner, c, s, library)
