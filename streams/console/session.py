"""Signing in to the web console: a verified Firebase ID token becomes an HttpOnly session cookie.

``POST /console/session`` with ``{"id_token": ...}`` verifies the token exactly as the API does
and answers with two cookies:

- ``roasloop_session``: the token itself, ``HttpOnly`` (no script can read it), ``Secure``,
  ``SameSite=Strict``, expiring with the token;
- ``roasloop_csrf``: a random value the page *can* read and echoes in ``X-CSRF-Token`` on writes
  (:mod:`streams.console.endpoint` checks it), which a page of another origin cannot.

``DELETE /console/session`` signs out. ``GET /console/config`` tells the page how people sign in
here: with an ID token, with email and password through Firebase's Identity Toolkit when a web
API key is configured, or - under ``roasloop dev`` only - as a role of the simulated tenant.
The page itself and its scripts and styles are files of this package: nothing is fetched from
another origin.
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from streams.console.context import ContextOf
from streams.console.endpoint import CSRF_COOKIE, SESSION_COOKIE
from streams.core.web import BodyTooLarge, error, read_body
from streams.integrations.firebase import ROLES, AuthError

STATIC = Path(__file__).with_name("static")
MAX_TOKEN_BODY = 16 * 1024


def set_session(response: Response, token: str, expires_at: float, secure: bool) -> None:
    """Put a verified ID token in the session cookie, with a fresh CSRF token beside it."""
    max_age = max(0, int(expires_at - time.time()))
    response.set_cookie(SESSION_COOKIE, token, max_age=max_age, httponly=True, secure=secure, samesite="strict",
                        path="/")
    response.set_cookie(CSRF_COOKIE, secrets.token_urlsafe(32), max_age=max_age, httponly=False, secure=secure,
                        samesite="strict", path="/")


def session_routes(context_of: ContextOf) -> list[BaseRoute]:
    async def create(request: Request) -> Response:
        ctx = context_of()
        if ctx.verifier is None:
            return error("session", 503, "FIREBASE_PROJECT_ID is not configured")
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return error("session", 415, "send the ID token as JSON: {\"id_token\": \"...\"}")
        try:
            payload = json.loads(await read_body(request, MAX_TOKEN_BODY))
        except (BodyTooLarge, ValueError, RecursionError):
            return error("session", 400, "body must be {\"id_token\": \"...\"}")
        token = payload.get("id_token") if isinstance(payload, dict) else None
        if not isinstance(token, str) or not token:
            return error("session", 400, "id_token: missing")
        try:
            principal = await ctx.verifier.verify(token)
        except AuthError as exc:
            return error("session", 401, str(exc))
        if principal.role not in ROLES:
            return error("session", 403, "this account has no roasloop role")
        response = JSONResponse({"sub": principal.sub, "role": principal.role,
                                 "tenants": None if principal.tenants is None else sorted(principal.tenants)})
        set_session(response, token, float(principal.claims["exp"]), ctx.config.cookie_secure)
        return response

    async def destroy(_: Request) -> Response:
        response = Response(status_code=204)
        for name in (SESSION_COOKIE, CSRF_COOKIE):
            response.delete_cookie(name, path="/", secure=context_of().config.cookie_secure, samesite="strict")
        return response

    async def config(_: Request) -> Response:
        ctx = context_of()
        return JSONResponse({"dev_sign_in": ctx.config.dev_sign_in,
                             "dev_tenant": ctx.config.dev_tenant or None,
                             "email_sign_in": ctx.config.firebase_web_api_key is not None,
                             "identity_toolkit_url": ctx.config.identity_toolkit_url,
                             "firebase_web_api_key": ctx.config.firebase_web_api_key})

    async def page(_: Request) -> Response:
        config = context_of().config
        email = f" {config.identity_toolkit_url}" if config.firebase_web_api_key else ""
        return FileResponse(STATIC / "index.html", headers=page_headers(email))

    async def to_page(_: Request) -> Response:
        return RedirectResponse("/console/", status_code=308)

    return [
        Route("/console", to_page, methods=["GET"]),
        Route("/console/", page, methods=["GET"]),
        Route("/console/session", create, methods=["POST"]),
        Route("/console/session", destroy, methods=["DELETE"]),
        Route("/console/config", config, methods=["GET"]),
        Mount("/console/static", app=StaticFiles(directory=STATIC), name="console-static"),
    ]


def page_headers(extra_connect: str = "") -> dict[str, str]:
    """The page loads only its own scripts, styles and data; the Identity Toolkit (email sign-in,
    when configured) is the one other origin it may call."""
    return {
        "Content-Security-Policy": f"default-src 'self'; connect-src 'self'{extra_connect}; img-src 'self' data:; "
                                   "style-src 'self'; style-src-attr 'unsafe-inline'; script-src 'self'; "
                                   "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }
