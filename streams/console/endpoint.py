"""How every operator route is guarded and answered: who calls, may they, and what went wrong.

A route is a plain async function of an :class:`Call` (the request, the verified principal, the
tenant in the path). :func:`endpoint` wraps it:

- **who**: a Firebase ID token, as ``Authorization: Bearer ...`` (scripts) or in the HttpOnly
  session cookie the console's sign-in sets (the web page); verified with the same RS256/JWKS
  checks either way (:mod:`streams.integrations.firebase`);
- **CSRF**: a write authenticated by the cookie must echo the session's CSRF token in the
  ``X-CSRF-Token`` header (double submit: a page of another origin can make the browser send the
  cookie, but cannot read the token to put it in a header); a bearer token is never sent by the
  browser on its own, so a bearer write needs no CSRF token;
- **may they**: the role the route needs (VIEWER < EDITOR < ADMIN) and the tenant in the path;
- **what went wrong**: :class:`ApiError` and the failures every route shares become a JSON
  ``{"error": ..., "field": ...}`` with a 4xx (or 503 for a broker or database outage) - never a
  500 for anything a caller sent.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from schemas.codec import describe
from schemas.envelope import EntityId, TenantId
from streams.console.context import ContextOf
from streams.core.web import DEPENDENCY_ERRORS, BodyRejected, PublishFailed, error, json_response, parse_json, read_body
from streams.integrations.firebase import AuthError, Forbidden, KeysUnavailable, Principal, bearer

SESSION_COOKIE = "roasloop_session"
CSRF_COOKIE = "roasloop_csrf"
CSRF_HEADER = "x-csrf-token"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

M = TypeVar("M", bound=BaseModel)
PATH_IDS: dict[str, TypeAdapter[str]] = {"tenant_id": TypeAdapter(TenantId), "campaign_id": TypeAdapter(EntityId)}
"""Path parameters every route takes as ids: checked once here, before any query or event sees them."""


class ApiError(Exception):
    """A request the caller can fix: ``status`` (4xx), what is wrong, and the field it concerns."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


def not_found(what: str) -> ApiError:
    return ApiError(404, f"{what} not found")


@dataclass(frozen=True)
class Call:
    """An authenticated, authorized operator request."""

    request: Request
    who: Principal
    context_of: ContextOf

    @property
    def tenant_id(self) -> str:
        return str(self.request.path_params["tenant_id"])

    def path(self, name: str) -> str:
        return str(self.request.path_params[name])

    async def json(self, model: type[M], *, allow_empty: bool = False) -> M:
        """The body validated as ``model``: 413 past the size limit, 400 naming the first bad field."""
        try:
            raw = await read_body(self.request, self.context_of().config.max_body_bytes)
        except BodyRejected as exc:
            raise ApiError(exc.status, str(exc)) from None
        if not raw.strip() and allow_empty:
            raw = b"{}"
        try:
            payload = parse_json(raw)
        except ValueError:
            raise ApiError(400, "body must be a JSON object") from None
        if not isinstance(payload, dict):
            raise ApiError(400, "body must be a JSON object")
        if (where := _nul_at(payload)) is not None:  # PostgreSQL text and jsonb refuse NUL
            raise ApiError(400, f"{where or 'body'}: NUL characters are not allowed", where or None)
        try:
            return model.model_validate(payload)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first.get("loc", ())) or None
            raise ApiError(400, describe(exc), field) from None

    def query_int(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.request.query_params.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ApiError(400, f"{name} must be an integer", name) from None
        if not low <= value <= high:
            raise ApiError(400, f"{name} must be between {low} and {high}", name)
        return value


Handler = Callable[[Call], Awaitable[Response]]


def _nul_at(value: Any, where: str = "") -> str | None:
    """The path of the first string (key or value) holding a NUL, or None."""
    if isinstance(value, str):
        return where if "\x00" in value else None
    if isinstance(value, dict):
        pairs: Any = value.items()
    elif isinstance(value, list):
        pairs = enumerate(value)
    else:
        return None
    for key, item in pairs:
        here = f"{where}.{key}" if where else str(key)
        if isinstance(key, str) and "\x00" in key:
            return here
        if (found := _nul_at(item, here)) is not None:
            return found
    return None


def check_path_ids(request: Request) -> None:
    for name, adapter in PATH_IDS.items():
        if name in request.path_params:
            try:
                adapter.validate_python(request.path_params[name])
            except ValidationError:
                raise ApiError(400, f"{name}: not a valid id", name) from None


def credentials(request: Request) -> tuple[str, bool]:
    """The caller's ID token and whether it came from the session cookie (``AuthError`` if none)."""
    header = request.headers.get("authorization")
    if header:
        return bearer(header), False
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return cookie, True
    raise AuthError("missing bearer token or session")


def csrf_ok(request: Request) -> bool:
    expected = request.cookies.get(CSRF_COOKIE, "")
    presented = request.headers.get(CSRF_HEADER, "")
    return bool(expected) and hmac.compare_digest(expected.encode(), presented.encode())


Endpoint = Callable[[Request], Awaitable[Response]]


def endpoint(context_of: ContextOf, role: str, route: str, handler: Handler) -> Endpoint:
    """The ASGI endpoint for ``handler``: authenticate, check CSRF and role, map failures to 4xx/503."""

    async def serve(request: Request) -> Response:
        ctx = context_of()
        if ctx.verifier is None:
            return error(route, 503, "FIREBASE_PROJECT_ID is not configured", {"Retry-After": "300"})
        try:
            token, from_cookie = credentials(request)
            principal = await ctx.verifier.verify(token)
            if from_cookie and request.method in WRITE_METHODS and not csrf_ok(request):
                raise Forbidden(f"a write from the console needs the {CSRF_HEADER} header of its session")
            principal.require(role, request.path_params.get("tenant_id"))
            check_path_ids(request)
            return await handler(Call(request, principal, context_of))
        except KeysUnavailable as exc:
            return error(route, 503, str(exc), {"Retry-After": "30"})
        except AuthError as exc:
            return error(route, 401, str(exc), {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        except Forbidden as exc:
            return error(route, 403, str(exc))
        except ApiError as exc:
            return problem(route, exc)
        except PublishFailed:
            return error(route, 503, "broker unavailable, nothing was changed", {"Retry-After": "5"})
        except DEPENDENCY_ERRORS:
            return error(route, 503, "database unavailable, retry later", {"Retry-After": "5"})

    return serve


def problem(route: str, exc: ApiError) -> Response:
    body: dict[str, Any] = {"error": exc.message}
    if exc.field:
        body["field"] = exc.field
    return json_response(route, exc.status, body)
