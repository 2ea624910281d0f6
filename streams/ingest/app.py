"""The ingest stage: an HTTP ingress (HubSpot webhooks, clicks, operator API) plus the insights poller.

It consumes no topic; it only publishes. Tests and the benchmark pass their own settings and
HTTP transports; ``stage`` reads everything from the environment at start.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.routing import BaseRoute, Route

from streams.core.faststream_app import lazy_app
from streams.core.stage import Resources, Stage
from streams.core.web import guarded
from streams.ingest import click_batch, clicks, context, webhooks
from streams.ingest.insights_poller import start_poller
from streams.ingest.openapi import paths
from streams.ingest.settings import IngestSettings


class IngestStage(Stage):
    name = "ingest"

    def __init__(self, config: IngestSettings | None = None, transports: context.Transports | None = None) -> None:
        self.config = config
        self.transports = transports or context.Transports()
        self.context: context.IngestContext | None = None

    def running(self) -> context.IngestContext:
        if self.context is None:
            raise RuntimeError("the ingest stage has not started")
        return self.context

    def routes(self, res: Resources) -> Sequence[BaseRoute]:
        return [
            Route(webhooks.ROUTE, guarded(webhooks.ROUTE, webhooks.make_handler(self.running)), methods=["POST"]),
            Route(clicks.ROUTE, guarded(clicks.ROUTE, clicks.make_handler(self.running)), methods=["GET"]),
            Route(click_batch.ROUTE, guarded(click_batch.ROUTE, click_batch.make_handler(self.running)),
                  methods=["POST"]),
        ]

    def openapi_paths(self) -> dict[str, Any]:
        return paths()

    async def start(self, res: Resources) -> None:
        self.context = context.build(res, self.config, self.transports)
        res.spawn(self.context.deliveries.run(), name="hubspot-delivery-keys")
        start_poller(self.context, self.transports.meta)

    async def stop(self, res: Resources) -> None:
        if self.context is not None:
            await self.context.close()
            self.context = None


stage = IngestStage()
__getattr__ = lazy_app(stage)
