"""Health, readiness and metrics endpoints of a running process."""

from __future__ import annotations

from typing import Any

import httpx

from streams.core.http import build_asgi
from streams.core.settings import Settings
from streams.core.stage import Stage, StageRunner
from tests.helpers import running_stages


class Probe(Stage):
    name = "probe"


async def test_health_ready_and_metrics_answer_on_a_started_runner(settings: Settings) -> None:
    async with running_stages(settings, [Probe()]) as runner:
        app = build_asgi(runner, manage_lifecycle=False)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as client:
            assert (await client.get("/healthz")).json() == {"status": "ok"}
            ready = await client.get("/readyz")
            assert ready.status_code == 200 and ready.json()["ready"] is True
            metrics = await client.get("/metrics")
            assert "roasloop_dead_letters_total" in metrics.text


async def test_not_ready_before_start(settings: Settings) -> None:
    runner = StageRunner([Probe()], settings)
    app = build_asgi(runner, manage_lifecycle=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as client:
        response = await client.get("/readyz")
    assert response.status_code == 503


class Described(Stage):
    name = "described"

    def openapi_paths(self) -> dict[str, Any]:
        return {"/v1/described": {"get": {"summary": "a described route", "responses": {"200": {"description": "OK"}}}}}


async def test_openapi_json_merges_the_paths_of_every_stage_in_the_process(settings: Settings) -> None:
    runner = StageRunner([Probe(), Described()], settings)
    app = build_asgi(runner, manage_lifecycle=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as client:
        document = (await client.get("/openapi.json")).json()
    assert document["openapi"] == "3.1.0"
    assert set(document["paths"]) == {"/v1/described"}
    assert "firebase" in document["components"]["securitySchemes"]
