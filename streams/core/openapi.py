"""``GET /openapi.json``: one OpenAPI 3.1 document for every HTTP route the process serves.

Each stage describes its own paths (:meth:`Stage.openapi_paths <streams.core.stage.Stage.openapi_paths>`),
hand-built so they say what the code enforces; request bodies reuse the pydantic models' JSON
Schemas, so a schema cannot drift from validation. This module holds the pieces every stage's
description shares - status texts, bodies, path parameters - and the security schemes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

STATUS_TEXT = {
    200: "OK", 201: "Created", 202: "Accepted: published, pending the executor", 204: "No content",
    207: "Some items rejected (by index)", 302: "Redirect to the landing page", 400: "Malformed request",
    401: "Not authenticated", 403: "Role or tenant not allowed", 404: "Not found",
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


def path_params(*names: str) -> list[dict[str, Any]]:
    return [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in names]


def document(paths: Iterable[dict[str, Any]], title: str = "roasloop") -> dict[str, Any]:
    """The whole document; nested models' schemas (pydantic's ``$defs``) move to ``components/schemas``,
    where the bodies' ``$ref`` s point, so every reference resolves from the document's root."""
    merged: dict[str, Any] = {}
    for part in paths:
        for path, operations in part.items():
            merged.setdefault(path, {}).update(operations)
    shared: dict[str, Any] = {}
    for operations in merged.values():
        for operation in operations.values():
            for media in operation.get("requestBody", {}).get("content", {}).values():
                _hoist(media["schema"], shared)
    components: dict[str, Any] = {"securitySchemes": SECURITY_SCHEMES}
    if shared:
        components["schemas"] = dict(sorted(shared.items()))
    return {"openapi": "3.1.0", "info": {"title": title, "version": "1"}, "paths": dict(sorted(merged.items())),
            "components": components}


def _hoist(schema: Any, shared: dict[str, Any]) -> None:
    if isinstance(schema, dict):
        for name, definition in schema.pop("$defs", {}).items():
            shared[name] = definition
            _hoist(definition, shared)
        for value in schema.values():
            _hoist(value, shared)
    elif isinstance(schema, list):
        for item in schema:
            _hoist(item, shared)
