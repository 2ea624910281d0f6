"""The HTTP face of every process: ``/healthz``, ``/readyz``, ``/metrics``, plus stage routes.

The process is one ASGI app (served by uvicorn) whose lifespan starts the stages: the broker's
consumers run beside the HTTP server, as in FastStream's ASGI mode. ``/healthz`` answers while
the event loop is alive (liveness); ``/readyz`` only when the database and the broker answer
(readiness: take traffic, count toward lag).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from streams.core import tracing
from streams.core.metrics import render
from streams.core.openapi import document
from streams.core.stage import StageRunner


def health_routes(runner: StageRunner) -> list[Route]:
    openapi_document = document(stage.openapi_paths() for stage in runner.stages)

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        ready = await runner.ready()
        body = {"ready": ready, "stages": [s.name for s in runner.stages]}
        return JSONResponse(body, status_code=200 if ready else 503)

    async def metrics(_: Request) -> Response:
        body, content_type = render()
        return PlainTextResponse(body, media_type=content_type)

    async def openapi(_: Request) -> Response:
        return JSONResponse(openapi_document)

    return [Route("/healthz", healthz), Route("/readyz", readyz), Route("/metrics", metrics),
            Route("/openapi.json", openapi, methods=["GET"])]


class TraceContextMiddleware:
    """Each request continues the caller's ``traceparent`` (or starts a trace) for what it publishes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"traceparent")
        token = tracing.continue_from(incoming)
        try:
            await self.app(scope, receive, send)
        finally:
            tracing.reset(token)


def build_asgi(runner: StageRunner, *, manage_lifecycle: bool = True) -> Starlette:
    """One ASGI app for the process. With ``manage_lifecycle`` its lifespan starts/stops the stages."""

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if manage_lifecycle:
            await runner.start()
        try:
            yield
        finally:
            if manage_lifecycle:
                await runner.stop()

    return Starlette(
        routes=[*health_routes(runner), *runner.routes],
        middleware=[Middleware(TraceContextMiddleware)],
        lifespan=lifespan,
    )
