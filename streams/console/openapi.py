"""The operator API's paths in ``/openapi.json`` (every one needs a Firebase ID token)."""

from __future__ import annotations

from typing import Any

from streams.console import alerts
from streams.console.api import BudgetChangeIn, PauseIn, StageValuesIn
from streams.core.openapi import FIREBASE, body, path_params, responses


def paths() -> dict[str, Any]:
    ops: dict[str, Any] = {
        "/v1/tenants/{tenant_id}/campaigns/{campaign_id}/history": {"get": {
            "summary": "Recent budget changes and decisions (VIEWER)", "security": FIREBASE,
            "parameters": path_params("tenant_id", "campaign_id"), "responses": responses(200, 401, 403, 503)}},
        "/v1/tenants/{tenant_id}/budget-changes": {"post": {
            "summary": "Request a manual budget change, subject to guardrails (EDITOR)", "security": FIREBASE,
            "parameters": path_params("tenant_id"), "requestBody": body(BudgetChangeIn),
            "responses": responses(202, 400, 401, 403, 503)}},
        "/v1/tenants/{tenant_id}/stage-values": {
            "get": {"summary": "Pipeline-stage values (EDITOR)", "security": FIREBASE,
                    "parameters": path_params("tenant_id"), "responses": responses(200, 401, 403)},
            "put": {"summary": "Set pipeline-stage values (EDITOR)", "security": FIREBASE,
                    "parameters": path_params("tenant_id"),
                    "requestBody": body(StageValuesIn),
                    "responses": responses(200, 400, 401, 403)}},
        **alerts.paths(),
    }
    for scope, extra in (("/v1/tenants/{tenant_id}", ()), ("/v1/tenants/{tenant_id}/campaigns/{campaign_id}",
                                                               ("campaign_id",))):
        for action in ("pause", "resume"):
            ops[f"{scope}/{action}"] = {"post": {
                "summary": f"{action.capitalize()} automation (ADMIN, kill switch)", "security": FIREBASE,
                "parameters": path_params("tenant_id", *extra), "requestBody": body(PauseIn) | {"required": False},
                "responses": responses(200, 400, 401, 403)}}
    return ops
