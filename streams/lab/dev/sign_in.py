"""``roasloop dev``'s sign-in: its local issuer's JWKS, and one click to the console as a role.

A lab stage, served only by ``roasloop dev`` (the runtime image does not even contain it): a
production console has no way to mint a token. ``GET /console/dev/sign-in?role=EDITOR`` signs the
caller in to the simulated tenant with a token of :class:`~streams.lab.dev.issuer.LocalIssuer`,
set as the same HttpOnly session cookie a real sign-in sets, and goes to the console.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from streams.console.session import set_session
from streams.core.stage import Resources, Stage
from streams.integrations.firebase import ROLES
from streams.lab.dev.issuer import LocalIssuer

JWKS_PATH = "/dev/jwks.json"


class DevSignIn(Stage):
    name = "dev-sign-in"
    needs_database = False

    def __init__(self, issuer: LocalIssuer, tenant_id: str, cookie_secure: bool = True) -> None:
        self.issuer, self.tenant_id, self.cookie_secure = issuer, tenant_id, cookie_secure

    def routes(self, res: Resources) -> Sequence[BaseRoute]:
        async def jwks(_: Request) -> Response:
            return JSONResponse(self.issuer.jwks())

        async def sign_in(request: Request) -> Response:
            role = request.query_params.get("role", "")
            if role not in ROLES:
                return JSONResponse({"error": f"role must be one of {', '.join(ROLES)}", "field": "role"},
                                    status_code=400)
            ttl = 8 * 3600
            token = self.issuer.token(role, [self.tenant_id], sub=f"dev-{role.lower()}", ttl_seconds=ttl)
            response = RedirectResponse(f"/console/#/t/{self.tenant_id}", status_code=303)
            set_session(response, token, time.time() + ttl, self.cookie_secure)  # tokens live in wall time
            return response

        return [Route(JWKS_PATH, jwks, methods=["GET"]), Route("/console/dev/sign-in", sign_in, methods=["GET"])]
