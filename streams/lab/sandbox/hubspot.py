"""A local HubSpot CRM API: the deal, association and contact reads roasloop's enrichment makes.

Endpoints (private-app bearer token required, ``Authorization: Bearer <token>``):
``GET /crm/v3/objects/{deals|contacts}/{id}`` (``properties``, ``associations``),
``POST /crm/v3/objects/{deals|contacts}/batch/read``, ``GET /crm/v4/objects/deals/{id}/associations/contacts``
and ``GET /crm/v3/pipelines/deals``. Errors carry HubSpot's JSON shape (``status``, ``message``,
``correlationId``, ``category``). The market fills the state through :meth:`HubSpotState.apply`,
before the matching webhooks are posted, so enrichment always finds what a webhook names.
Webhooks themselves: :mod:`streams.lab.sandbox.hubspot_webhooks`.
"""

from __future__ import annotations

import hmac
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from streams.lab.sandbox.market_types import ALL_STAGES, DayOutcome

CLICK_ID_PROPERTY = "roasloop_click_id"  # the rl_cid the landing page stored on the contact
FBCLID_PROPERTY = "fbclid"
IP_PROPERTY = "roasloop_ip_address"
USER_AGENT_PROPERTY = "roasloop_user_agent"
DEFAULT_DEAL_PROPERTIES = (
    "amount",
    "closedate",
    "createdate",
    "dealname",
    "dealstage",
    "hs_lastmodifieddate",
    "hs_object_id",
    "pipeline",
)
DEFAULT_CONTACT_PROPERTIES = ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname")
DEAL_TO_CONTACT_TYPE_ID = 3
STAGE_PROBABILITY = {
    "appointmentscheduled": "0.2",
    "qualifiedtobuy": "0.4",
    "presentationscheduled": "0.6",
    "decisionmakerboughtin": "0.8",
    "contractsent": "0.9",
    "closedwon": "1.0",
    "closedlost": "0.0",
}
STAGE_LABEL = {
    "appointmentscheduled": "Appointment scheduled",
    "qualifiedtobuy": "Qualified to buy",
    "presentationscheduled": "Presentation scheduled",
    "decisionmakerboughtin": "Decision maker bought-in",
    "contractsent": "Contract sent",
    "closedwon": "Closed won",
    "closedlost": "Closed lost",
}


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class CrmObject:
    object_id: str
    properties: dict[str, str | None]
    created_at: datetime
    updated_at: datetime
    contact_ids: list[str] = field(default_factory=list)  # deals only

    def to_json(self, wanted: list[str], associations: dict[str, Any] | None = None) -> dict[str, Any]:
        props = {k: self.properties.get(k) for k in wanted}
        props["hs_object_id"] = self.object_id
        body: dict[str, Any] = {
            "id": self.object_id,
            "properties": props,
            "createdAt": _iso(self.created_at),
            "updatedAt": _iso(self.updated_at),
            "archived": False,
        }
        if associations:
            body["associations"] = associations
        return body


@dataclass
class HubSpotState:
    access_token: str = "sandbox-hubspot-token"
    client_secret: str = "sandbox-hubspot-client-secret"
    portal_id: int = 62515
    app_id: int = 54321
    deals: dict[str, CrmObject] = field(default_factory=dict)
    contacts: dict[str, CrmObject] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _faults: deque[int] = field(default_factory=deque)

    def fail_next(self, status: int = 429, count: int = 1) -> None:
        """The next ``count`` API calls answer ``status`` (429 secondly limit, or 5xx)."""
        self._faults.extend([status] * count)

    def upsert_contact(self, contact_id: str, properties: dict[str, str | None], at: datetime) -> CrmObject:
        with self.lock:
            c = self.contacts.get(contact_id) or CrmObject(contact_id, {"createdate": _iso(at)}, at, at)
            c.properties.update(properties)
            c.properties["lastmodifieddate"] = _iso(at)
            c.updated_at = at
            self.contacts[contact_id] = c
            return c

    def set_deal_stage(
        self,
        deal_id: str,
        stage_id: str,
        at: datetime,
        contact_id: str | None = None,
        amount_minor: int | None = None,
        currency_exponent: int = 2,
    ) -> CrmObject:
        """Move (or create) a deal; ``amount`` is stored like HubSpot does, in major units as a string."""
        with self.lock:
            d = self.deals.get(deal_id)
            if d is None:
                d = CrmObject(
                    deal_id,
                    {
                        "createdate": _iso(at),
                        "dealname": f"Deal {deal_id}",
                        "pipeline": "default",
                        "amount": None,
                        "closedate": None,
                    },
                    at,
                    at,
                )
                self.deals[deal_id] = d
            d.properties["dealstage"] = stage_id
            d.properties["hs_lastmodifieddate"] = _iso(at)
            if amount_minor is not None:
                d.properties["amount"] = f"{amount_minor / 10**currency_exponent:.{currency_exponent}f}"
            if stage_id in ("closedwon", "closedlost"):
                d.properties["closedate"] = _iso(at)
            if contact_id is not None and contact_id not in d.contact_ids:
                d.contact_ids.append(contact_id)
            d.updated_at = at
            return d

    def apply(self, outcome: DayOutcome, currency_exponent: int = 2) -> None:
        """Record a market day's contacts and stage changes, as the CRM would hold them."""
        for c in outcome.contacts:
            self.upsert_contact(
                c.contact_id,
                {
                    "email": c.email,
                    "firstname": "Sandbox",
                    "lastname": f"Lead {c.contact_id}",
                    CLICK_ID_PROPERTY: c.click_id,
                    FBCLID_PROPERTY: c.fbclid,
                    IP_PROPERTY: c.ip,
                    USER_AGENT_PROPERTY: c.user_agent,
                },
                c.created_at,
            )
        for s in outcome.stage_changes:
            self.set_deal_stage(s.deal_id, s.stage_id, s.occurred_at, s.contact_id, s.amount_minor, currency_exponent)


def _error(status: int, message: str, category: str, **extra: Any) -> JSONResponse:
    body = {"status": "error", "message": message, "correlationId": str(uuid.uuid4()), "category": category, **extra}
    return JSONResponse(body, status_code=status)


def create_hubspot_app(state: HubSpotState) -> Starlette:
    """The CRM API stand-in over ``state``."""

    def guard(request: Request) -> JSONResponse | None:
        with state.lock:
            state.requests.append((request.method, request.url.path))
            fault = state._faults.popleft() if state._faults else None
        if fault == 429:
            return _error(
                429,
                "You have reached your secondly limit.",
                "RATE_LIMITS",
                errorType="RATE_LIMIT",
                policyName="SECONDLY",
            )
        if fault is not None:
            return _error(fault, "internal error", "INTERNAL_ERROR")
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token, state.access_token):
            return _error(
                401,
                "Authentication credentials not found. This API supports OAuth 2.0 authentication "
                "and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                "INVALID_AUTHENTICATION",
            )
        return None

    def table(kind: str) -> dict[str, CrmObject]:
        return state.deals if kind == "deals" else state.contacts

    def default_props(kind: str) -> list[str]:
        return list(DEFAULT_DEAL_PROPERTIES if kind == "deals" else DEFAULT_CONTACT_PROPERTIES)

    def render(kind: str, obj: CrmObject, props: list[str], assoc: list[str]) -> dict[str, Any]:
        associations = None
        if kind == "deals" and "contacts" in assoc and obj.contact_ids:
            associations = {"contacts": {"results": [{"id": c, "type": "deal_to_contact"} for c in obj.contact_ids]}}
        return obj.to_json(props, associations)

    async def get_object(request: Request) -> Response:
        if (denied := guard(request)) is not None:
            return denied
        kind, object_id = request.path_params["kind"], request.path_params["object_id"]
        if kind not in ("deals", "contacts"):
            return _error(404, f"Unknown object type {kind}", "OBJECT_NOT_FOUND")
        props = [p for p in request.query_params.get("properties", "").split(",") if p] or default_props(kind)
        assoc = [a for a in request.query_params.get("associations", "").split(",") if a]
        with state.lock:
            obj = table(kind).get(object_id)
            if obj is None:
                return _error(
                    404,
                    "Object not found.  objectId are usually numeric.",
                    "OBJECT_NOT_FOUND",
                    context={"id": [object_id]},
                )
            return JSONResponse(render(kind, obj, props, assoc))

    async def batch_read(request: Request) -> Response:
        if (denied := guard(request)) is not None:
            return denied
        kind = request.path_params["kind"]
        if kind not in ("deals", "contacts"):
            return _error(404, f"Unknown object type {kind}", "OBJECT_NOT_FOUND")
        payload = await request.json()
        props = payload.get("properties") or default_props(kind)
        started = datetime.now(UTC)
        with state.lock:
            ids = [str(i.get("id")) for i in payload.get("inputs", [])]
            found = [render(kind, table(kind)[i], props, []) for i in ids if i in table(kind)]
        body: dict[str, Any] = {
            "status": "COMPLETE",
            "results": found,
            "startedAt": _iso(started),
            "completedAt": _iso(datetime.now(UTC)),
        }
        missing = [i for i in ids if i not in {f["id"] for f in found}]
        if missing:
            body["numErrors"] = 1
            body["errors"] = [
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "message": f"Could not get some {kind} objects, they may be deleted or not exist.",
                    "context": {"ids": missing},
                }
            ]
        return JSONResponse(body, status_code=207 if missing else 200)

    async def associations_v4(request: Request) -> Response:
        if (denied := guard(request)) is not None:
            return denied
        deal_id = request.path_params["object_id"]
        with state.lock:
            deal = state.deals.get(deal_id)
            if deal is None:
                return _error(404, f"Object not found. deal {deal_id} does not exist", "OBJECT_NOT_FOUND")
            results = [
                {
                    "toObjectId": int(c),
                    "associationTypes": [
                        {"category": "HUBSPOT_DEFINED", "typeId": DEAL_TO_CONTACT_TYPE_ID, "label": None}
                    ],
                }
                for c in deal.contact_ids
            ]
        return JSONResponse({"results": results})

    async def pipelines(request: Request) -> Response:
        if (denied := guard(request)) is not None:
            return denied
        stages = [
            {
                "id": s,
                "label": STAGE_LABEL[s],
                "displayOrder": i,
                "archived": False,
                "metadata": {"probability": STAGE_PROBABILITY[s], "isClosed": str(s.startswith("closed")).lower()},
            }
            for i, s in enumerate(ALL_STAGES)
        ]
        return JSONResponse(
            {
                "results": [
                    {"id": "default", "label": "Sales Pipeline", "displayOrder": 0, "archived": False, "stages": stages}
                ]
            }
        )

    return Starlette(
        routes=[
            Route("/crm/v3/objects/{kind:str}/batch/read", batch_read, methods=["POST"]),
            Route("/crm/v3/objects/{kind:str}/{object_id:str}", get_object, methods=["GET"]),
            Route("/crm/v4/objects/deals/{object_id:str}/associations/contacts", associations_v4, methods=["GET"]),
            Route("/crm/v3/pipelines/deals", pipelines, methods=["GET"]),
        ]
    )
