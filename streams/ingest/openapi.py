"""The ingress's paths in ``/openapi.json``: HubSpot webhooks, click redirects, producer click batches."""

from __future__ import annotations

from typing import Any

from streams.core.openapi import body, path_params, responses
from streams.ingest.click_batch import ClickIn
from streams.ingest.click_urls import MAX_URL


def paths() -> dict[str, Any]:
    return {
        "/webhooks/hubspot": {"post": {
            "summary": "HubSpot webhook batch (signature v1, v2 or v3)",
            "requestBody": body(schema={"type": "array", "items": {"type": "object"}}),
            "security": [{"hubspotSignature": []}], "responses": responses(200, 400, 401, 408, 413, 429, 503)}},
        "/c/{tenant_id}/{ad_id}": {"get": {
            "summary": "Record an ad click and redirect to the landing page with rl_cid",
            "parameters": [*path_params("tenant_id", "ad_id"), {
                "name": "url", "in": "query", "required": True,
                "schema": {"type": "string", "format": "uri", "maxLength": MAX_URL}}],
            "responses": responses(302, 400, 404, 429, 503)}},
        "/v1/clicks": {"post": {
            "summary": "Click batch from a producer", "security": [{"apiKey": []}],
            "requestBody": body(schema={"type": "array", "items": ClickIn.model_json_schema()}),
            "responses": responses(200, 207, 400, 401, 408, 413, 429, 503)}},
    }
