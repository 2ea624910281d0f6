"""The ingest stage: an HTTP ingress (HubSpot webhooks, clicks, operator API) plus the insights poller.

It consumes no topic; it only publishes. ``make_stage`` lets tests and the benchmark pass their
own settings and HTTP transports; ``stage`` reads everything from the environment at start.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.routing import BaseRoute, Route

from streams.core.stage import Resources, Stage
from streams.ingest import click_batch, clicks, context, webhooks
from streams.ingest.insights_poller import start_poller
from streams.ingest.openapi import openapi_route
from streams.ingest.operator_api import operator_routes
from streams.ingest.settings import IngestSettings


def make_stage(config: IngestSettings | None = None, transports: context.Transports | None = None) -> Stage:
    transports = transports or context.Transports()

    def register(_: Resources) -> None:
        """Ingest subscribes to nothing."""

    def routes(res: Resources) -> Sequence[BaseRoute]:
        return [
            Route(webhooks.ROUTE, webhooks.make_handler(res), methods=["POST"]),
            Route(clicks.ROUTE, clicks.make_handler(res), methods=["GET"]),
            Route(click_batch.ROUTE, click_batch.make_handler(res), methods=["POST"]),
            *operator_routes(res),
            openapi_route(),
        ]

    async def on_start(res: Resources) -> None:
        ctx = context.build(res, config, transports)
        res.extras[context.KEY] = ctx
        start_poller(ctx, transports.meta)

    async def on_stop(res: Resources) -> None:
        ctx = res.extras.pop(context.KEY, None)
        if isinstance(ctx, context.IngestContext):
            await ctx.close()

    return Stage(name="ingest", register=register, routes=routes, on_start=on_start, on_stop=on_stop)


stage = make_stage()


def __getattr__(name: str) -> object:
    if name == "app":
        from streams.core.faststream_app import faststream_app

        return faststream_app(stage)
    raise AttributeError(name)
