"""The ingest and console stages served by uvicorn on a real socket, as ``roasloop run`` serves them,
with the real broker and database, a tenant, a HubSpot portal, a producer key and Firebase tokens.

For the tests that need what only a real server does: HTTP parsing and framing, uvicorn's own log
lines, a client in another thread (schemathesis, hypothesis) calling while the stages run here.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import uvicorn
from pydantic import SecretStr

from streams.console.app import ConsoleStage
from streams.console.settings import ConsoleSettings
from streams.core.http import build_asgi
from streams.core.http_server import HeaderDeadlineProtocol
from streams.core.settings import Settings
from streams.ingest import api_keys
from streams.ingest.app import IngestStage
from streams.ingest.settings import IngestSettings
from tests.helpers import running_stages
from tests.ingest.conftest import ingress_settings
from tests.jwt_issuer import PROJECT, Issuer

PORTAL = 62515
LANDING_HOST = "shop.acme.test"


@dataclass
class Stack:
    base: str
    callers: dict[str, dict[str, str]]
    failures: list[str] = field(default_factory=list)
    answered: int = 0
    unsent: int = 0

    def check(self, what: str, status: int, body: str) -> None:
        self.answered += 1
        if status >= 500:
            self.failures.append(f"{status} {what}: {body[:200]}")


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


@contextlib.asynccontextmanager
async def served(settings: Settings, jwks_url: str, issuer: Issuer, pool: asyncpg.Pool[Any], *,
                 access_log: bool = False) -> AsyncIterator[Stack]:
    """The stack on ``127.0.0.1:<free port>``; with ``access_log`` uvicorn logs every request (INFO)."""
    await pool.execute("INSERT INTO tenants (tenant_id, landing_hosts) VALUES ('acme', $1)", [LANDING_HOST])
    await pool.execute("INSERT INTO hubspot_portals (portal_id, tenant_id) VALUES ($1, 'acme')", PORTAL)
    async with pool.acquire() as conn:
        key = await api_keys.issue(conn, "acme")
    s = ingress_settings(settings, firebase_project_id=PROJECT, firebase_jwks_url=jwks_url,
                          credentials_keys=SecretStr("http-stack-credentials-key"))
    stages = [IngestStage(IngestSettings(rate_limit_per_second=1e6, rate_limit_burst=10**6, body_timeout_seconds=2,
                                         publish_timeout_seconds=3)),
              ConsoleStage(ConsoleSettings(publish_timeout_seconds=3))]
    async with running_stages(s, stages) as runner:
        server = uvicorn.Server(uvicorn.Config(build_asgi(runner, manage_lifecycle=False), host="127.0.0.1", port=0,
                                               log_level="info" if access_log else "critical",
                                               access_log=access_log, lifespan="off", http=HeaderDeadlineProtocol))
        serving = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        callers = {"nobody": {}, "producer": {"X-Api-Key": key}}
        for role in ("VIEWER", "EDITOR", "ADMIN"):
            callers[role] = {"Authorization": f"Bearer {issuer.token(role=role, sub=f'fuzz-{role.lower()}')}"}
        try:
            yield Stack(f"http://127.0.0.1:{port}", callers)
        finally:
            server.should_exit = True
            await serving
