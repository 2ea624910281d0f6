"""An ingress under test: the ingest stage on the real broker and database, spoken to over ASGI."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr

from streams.core.clock import Clock
from streams.core.http import build_asgi
from streams.core.settings import Settings
from streams.core.stage import StageRunner
from streams.ingest.app import IngestStage
from streams.ingest.context import Transports
from streams.ingest.settings import IngestSettings
from tests.helpers import running_stages

SECRET = "test-hubspot-client-secret"
PUBLIC_URL = "https://hooks.example.com"
WEBHOOK_URL = PUBLIC_URL + "/webhooks/hubspot"


@dataclass
class Ingress:
    runner: StageRunner
    client: httpx.AsyncClient
    settings: Settings
    stage: IngestStage


def ingress_settings(settings: Settings, **overrides: Any) -> Settings:
    update: dict[str, Any] = {"hubspot_client_secret": SecretStr(SECRET), "public_base_url": PUBLIC_URL}
    return settings.model_copy(update=update | overrides)


@contextlib.asynccontextmanager
async def ingress(settings: Settings, config: IngestSettings | None = None, transports: Transports | None = None,
                  clock: Clock | None = None, client_ip: str = "203.0.113.7", **overrides: Any
                  ) -> AsyncIterator[Ingress]:
    s = ingress_settings(settings, **overrides)
    stage = IngestStage(config or IngestSettings(), transports)
    async with running_stages(s, [stage], clock) as runner:
        app = build_asgi(runner, manage_lifecycle=False)
        transport = httpx.ASGITransport(app=app, client=(client_ip, 51515))
        async with httpx.AsyncClient(transport=transport, base_url="http://ingress.internal") as client:
            yield Ingress(runner, client, s, stage)


async def stop_producer(runner: StageRunner) -> None:
    """Make the broker unreachable for this process: every publish now fails at once."""
    producer = runner.resources.broker._producer  # FastStream's wrapper around aiokafka's producer
    await producer._producer.stop()  # type: ignore[attr-defined]
