"""``GET /openapi.json``: the ingress's contract, hand-built so it says what the code enforces.

Request bodies reuse the pydantic models' JSON Schemas (so the schema cannot drift from
validation); the rest - status codes, auth schemes - is written out here once.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from schemas.pipeline import VALUED_STAGES
from streams.ingest.click_batch import ClickIn
from streams.ingest.operator_api import BudgetChangeIn, PauseIn


def _responses(*codes: int) -> dict[str, Any]:
    text = {200: "OK", 202: "Accepted: published, pending the executor", 207: "Some items rejected (by index)",
            302: "Redirect to the landing page", 400: "Malformed request", 401: "Not authenticated",
            403: "Role or tenant not allowed", 404: "Unknown tenant", 413: "Body or batch too large",
            429: "Rate limited (see Retry-After)", 503: "Broker or dependency unavailable: retry"}
    return {str(c): {"description": text[c]} for c in codes}


def _body(model: type[Any] | None = None, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema or model.model_json_schema()}}}  # type: ignore[union-attr]


def _tenant(*extra: str) -> list[dict[str, Any]]:
    return [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in ("tenant_id", *extra)]


def schema() -> dict[str, Any]:
    bearer: list[dict[str, list[str]]] = [{"firebase": []}]
    ops: dict[str, Any] = {
        "/webhooks/hubspot": {"post": {
            "summary": "HubSpot webhook batch (signature v1, v2 or v3)",
            "requestBody": _body(schema={"type": "array", "items": {"type": "object"}}),
            "security": [{"hubspotSignature": []}], "responses": _responses(200, 400, 401, 413, 429, 503)}},
        "/c/{tenant_id}/{ad_id}": {"get": {
            "summary": "Record an ad click and redirect to the landing page with rl_cid",
            "parameters": [*_tenant("ad_id"), {"name": "url", "in": "query", "required": True,
                                               "schema": {"type": "string", "format": "uri"}}],
            "responses": _responses(302, 400, 404, 429)}},
        "/v1/clicks": {"post": {
            "summary": "Click batch from a producer", "security": [{"apiKey": []}],
            "requestBody": _body(schema={"type": "array", "items": ClickIn.model_json_schema()}),
            "responses": _responses(200, 207, 400, 401, 413, 429, 503)}},
        "/v1/tenants/{tenant_id}/campaigns/{campaign_id}/history": {"get": {
            "summary": "Recent budget changes and decisions (VIEWER)", "security": bearer,
            "parameters": _tenant("campaign_id"), "responses": _responses(200, 401, 403, 503)}},
        "/v1/tenants/{tenant_id}/budget-changes": {"post": {
            "summary": "Request a manual budget change, subject to guardrails (EDITOR)", "security": bearer,
            "parameters": _tenant(), "requestBody": _body(BudgetChangeIn),
            "responses": _responses(202, 400, 401, 403, 503)}},
        "/v1/tenants/{tenant_id}/stage-values": {
            "get": {"summary": "Pipeline-stage values (EDITOR)", "security": bearer, "parameters": _tenant(),
                    "responses": _responses(200, 401, 403)},
            "put": {"summary": "Set pipeline-stage values (EDITOR)", "security": bearer, "parameters": _tenant(),
                    "requestBody": _body(schema={"type": "object", "properties": {"stage_values": {
                        "type": "object", "properties": {s: {"type": "integer", "minimum": 0} for s in VALUED_STAGES},
                        "additionalProperties": False}}}),
                    "responses": _responses(200, 400, 401, 403)}},
    }
    for scope, extra in (("/v1/tenants/{tenant_id}", ()), ("/v1/tenants/{tenant_id}/campaigns/{campaign_id}",
                                                               ("campaign_id",))):
        for action in ("pause", "resume"):
            ops[f"{scope}/{action}"] = {"post": {
                "summary": f"{action.capitalize()} automation (ADMIN, kill switch)", "security": bearer,
                "parameters": _tenant(*extra), "requestBody": _body(PauseIn) | {"required": False},
                "responses": _responses(200, 400, 401, 403)}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "roasloop ingress", "version": "1"},
        "paths": ops,
        "components": {"securitySchemes": {
            "firebase": {"type": "http", "scheme": "bearer", "bearerFormat": "Firebase ID token (RS256)"},
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
            "hubspotSignature": {"type": "apiKey", "in": "header", "name": "X-HubSpot-Signature-v3"},
        }},
    }


def openapi_route() -> Route:
    document = schema()

    async def openapi(_: Request) -> Response:
        return JSONResponse(document)

    return Route("/openapi.json", openapi, methods=["GET"])
