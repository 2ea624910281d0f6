"""The console stage behind an in-process HTTP client, with Firebase tokens from a local JWKS."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from streams.console.app import ConsoleStage
from streams.console.settings import ConsoleSettings
from streams.core.clock import Clock
from streams.core.http import build_asgi
from streams.core.settings import Settings
from streams.core.stage import StageRunner
from tests.helpers import running_stages
from tests.jwt_issuer import PROJECT


@dataclass
class Console:
    runner: StageRunner
    client: httpx.AsyncClient
    settings: Settings
    stage: ConsoleStage


@contextlib.asynccontextmanager
async def console(settings: Settings, jwks_url: str, config: ConsoleSettings | None = None,
                  clock: Clock | None = None, **overrides: Any) -> AsyncIterator[Console]:
    s = settings.model_copy(update={"firebase_project_id": PROJECT, "firebase_jwks_url": jwks_url} | overrides)
    stage = ConsoleStage(config or ConsoleSettings())
    async with running_stages(s, [stage], clock) as runner:
        app = build_asgi(runner, manage_lifecycle=False)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://console.internal") as c:
            yield Console(runner, c, s, stage)
