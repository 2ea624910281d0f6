"""What the console's routes share at run time, built once when the stage starts.

Routes are created before the stage starts (the runner asks for them up front), so handlers ask
the stage for this context at call time (a :data:`ContextOf`) instead of closing over half-built
objects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx

from streams.console.settings import ConsoleSettings
from streams.core.stage import Resources
from streams.integrations.firebase import FirebaseVerifier, JwksCache


@dataclass
class ConsoleContext:
    res: Resources
    config: ConsoleSettings
    http: httpx.AsyncClient
    verifier: FirebaseVerifier | None = None
    """None when ``FIREBASE_PROJECT_ID`` is not set: every operator route answers 503."""

    async def close(self) -> None:
        await self.http.aclose()


def build(res: Resources, config: ConsoleSettings, jwks_transport: httpx.AsyncBaseTransport | None = None
          ) -> ConsoleContext:
    s = res.settings
    http = httpx.AsyncClient(timeout=httpx.Timeout(config.jwks_timeout_seconds), transport=jwks_transport)
    verifier = None
    if s.firebase_project_id:
        jwks = JwksCache(s.firebase_jwks_url, http, min_refresh_s=config.jwks_min_refresh_seconds)
        verifier = FirebaseVerifier(s.firebase_project_id, jwks)
    return ConsoleContext(res=res, config=config, http=http, verifier=verifier)


ContextOf = Callable[[], ConsoleContext]
"""How a route finds the running stage's context (raises if the stage has not started)."""
