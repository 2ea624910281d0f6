"""Simulated traffic for ``roasloop dev``: the sandbox market driving the real ingress.

Filled in once the sandbox market lands; until then the dev stack runs without traffic.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import structlog

from streams.core.settings import Settings
from streams.core.stage import StageRunner

log = structlog.get_logger("roasloop.dev.simulation")


class NoSimulation:
    async def summary(self) -> dict[str, Any]:
        return {}


@contextlib.asynccontextmanager
async def start_simulation(options: Any, settings: Settings, runner: StageRunner, base_url: str
                           ) -> AsyncIterator[NoSimulation]:
    log.warning("simulation_unavailable", reason="the sandbox market is not installed in this build")
    yield NoSimulation()
