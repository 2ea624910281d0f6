"""The console stage: the operator API under ``/v1`` and the web console that is built on it.

It consumes no topic: it reads PostgreSQL, writes operator settings there (audited), and publishes
operator requests (budget changes) for the executor. ``roasloop run console`` serves it; in
production it runs behind the same origin as the people who use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
from starlette.routing import BaseRoute

from streams.console import context
from streams.console.api import openapi_paths, operator_routes
from streams.console.session import session_routes
from streams.console.settings import ConsoleSettings, load_console_settings
from streams.core.faststream_app import lazy_app
from streams.core.stage import Resources, Stage


class ConsoleStage(Stage):
    name = "console"

    def __init__(self, config: ConsoleSettings | None = None,
                 jwks_transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._config = config
        self.jwks_transport = jwks_transport
        self.context: context.ConsoleContext | None = None

    @property
    def config(self) -> ConsoleSettings:
        if self._config is None:
            self._config = load_console_settings()
        return self._config

    def running(self) -> context.ConsoleContext:
        if self.context is None:
            raise RuntimeError("the console stage has not started")
        return self.context

    def routes(self, res: Resources) -> Sequence[BaseRoute]:
        return [*operator_routes(self.running), *session_routes(self.running)]

    def openapi_paths(self) -> dict[str, Any]:
        return openapi_paths()

    async def start(self, res: Resources) -> None:
        self.context = context.build(res, self.config, self.jwks_transport)

    async def stop(self, res: Resources) -> None:
        if self.context is not None:
            await self.context.close()
            self.context = None


stage = ConsoleStage()
__getattr__ = lazy_app(stage)
