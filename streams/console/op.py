"""One operator route, as the route table lists it: what it answers, who may call it, what it takes.

Route groups (:mod:`streams.console.alerts`, ...) declare theirs with it, and
:mod:`streams.console.api` builds both the Starlette routes and the OpenAPI paths from the table.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from streams.console.endpoint import Handler


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    role: str
    handler: Handler
    summary: str
    body: type[BaseModel] | None = None
    query: tuple[str, ...] = ()
    ok: int = 200
