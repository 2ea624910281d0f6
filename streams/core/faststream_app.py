"""A stage as a FastStream ASGI application, for ``faststream run streams.<stage>.app:app``.

FastStream's ASGI app matches routes by exact path; stage routes with parameters (the click
redirect) fall through to the stage's Starlette router instead of a 404.

``app`` is built on first use (:func:`lazy_app`), not at import: building it reads the
environment's settings, and importing a stage module (tests, ``roasloop run``) must not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from faststream.asgi import AsgiFastStream

from streams.core.http import build_asgi
from streams.core.settings import load_settings
from streams.core.stage import Stage, StageRunner


def faststream_app(*stages: Stage) -> AsgiFastStream:
    runner = StageRunner(list(stages), load_settings())
    router = build_asgi(runner, manage_lifecycle=False)

    async def mark_started() -> None:
        runner.started = True

    class _StageApp(AsgiFastStream):
        async def not_found(self, scope: Any, receive: Any, send: Any) -> None:
            await router(scope, receive, send)

    return _StageApp(
        runner.resources.broker,
        on_startup=[runner.open],
        after_startup=[mark_started],
        after_shutdown=[runner.close],
    )


def lazy_app(*stages: Stage) -> Callable[[str], object]:
    """A module ``__getattr__`` (PEP 562) that builds the stage module's ``app`` when first asked for.

    In ``streams/<stage>/app.py``: ``__getattr__ = lazy_app(stage)``.
    """

    def module_getattr(name: str) -> object:
        if name == "app":
            return faststream_app(*stages)
        raise AttributeError(name)

    return module_getattr
