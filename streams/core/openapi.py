"""``GET /openapi.json``: one OpenAPI 3.1 document for every HTTP route the process serves.

Each stage describes its own paths (:meth:`Stage.openapi_paths <streams.core.stage.Stage.openapi_paths>`),
hand-built so they say what the code enforces; request bodies reuse the pydantic models' JSON
Schemas, so a schema cannot drift from validation. This module holds the pieces every stage's
description shares - status texts, bodies, path parameters - and the security schemes.

A model's JSON Schema keeps its sub-models under ``$defs`` with references into them; inside an
OpenAPI document such a reference would point at the document's root, where nothing is. So
:func:`document` moves every ``$defs`` entry to ``components/schemas`` and points the references
there: every ``$ref`` of the served document resolves (``tests/core/test_http_fuzz.py`` checks).
Path parameters named like the envelope's ids carry the ids' patterns, which the routes enforce.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import TypeAdapter

from schemas.envelope import EntityId, TenantId

STATUS_TEXT = {
    200: "OK", 201: "Created", 202: "Accepted: published, pending the executor", 204: "No content",
    207: "Some items rejected (by index)", 302: "Redirect to the landing page", 400: "Malformed request",
    401: "Not authenticated", 403: "Role or tenant not allowed", 404: "Not found",
    408: "The body did not arrive in time",
    409: "Conflict: changed by someone else since it was read", 413: "Body or batch too large",
    422: "Valid JSON that breaks a rule (named in the error)", 429: "Rate limited (see Retry-After)",
    503: "Broker or dependency unavailable: retry",
}
FIREBASE: list[dict[str, list[str]]] = [{"firebase": []}]
SECURITY_SCHEMES = {
    "firebase": {"type": "http", "scheme": "bearer", "bearerFormat": "Firebase ID token (RS256)"},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
    "hubspotSignature": {"type": "apiKey", "in": "header", "name": "X-HubSpot-Signature-v3"},
}


def responses(*codes: int) -> dict[str, Any]:
    return {str(c): {"description": STATUS_TEXT[c]} for c in codes}


def body(model: type[Any] | None = None, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    if schema is None:
        assert model is not None, "a body needs a model or a schema"
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    return {"required": True, "content": {"application/json": {"schema": schema}}}


ID_SCHEMAS: dict[str, dict[str, Any]] = {
    "tenant_id": TypeAdapter(TenantId).json_schema(),
    **{name: TypeAdapter(EntityId).json_schema() for name in ("campaign_id", "ad_id", "entity_id", "change_id")},
}


def path_params(*names: str) -> list[dict[str, Any]]:
    return [{"name": n, "in": "path", "required": True, "schema": ID_SCHEMAS.get(n, {"type": "string"})}
            for n in names]


def _hoist(node: Any, found: dict[str, Any]) -> Any:
    """``node`` with nested ``$defs`` moved into ``found`` and references pointed at components."""
    if isinstance(node, list):
        return [_hoist(item, found) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "$defs":
            for name, schema in value.items():
                found[name] = _hoist(schema, found)
        elif key == "$ref" and isinstance(value, str) and value.startswith("#/$defs/"):
            out[key] = "#/components/schemas/" + value.removeprefix("#/$defs/")
        else:
            out[key] = _hoist(value, found)
    return out


def document(paths: Iterable[dict[str, Any]], title: str = "roasloop") -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for part in paths:
        for path, operations in part.items():
            merged.setdefault(path, {}).update(operations)
    schemas: dict[str, Any] = {}
    hoisted = _hoist(dict(sorted(merged.items())), schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1"},
        "paths": hoisted,
        "components": {"securitySchemes": SECURITY_SCHEMES, "schemas": dict(sorted(schemas.items()))},
    }
