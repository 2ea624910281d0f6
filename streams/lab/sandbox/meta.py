"""A local Meta Graph API (Marketing API subset) that answers like graph.facebook.com.

Endpoints: ``GET/POST /{version}/{id}`` (read fields, with expansions, :mod:`.meta_read`; update
``daily_budget`` or ``status``), ``GET /{version}/{adset}/ads``,
``GET /{version}/act_{account}/minimum_budgets``, ``GET /{version}/{id}/insights`` and the creation
edges of :mod:`.meta_create`. Every call needs ``access_token`` and, by default, ``appsecret_proof``
(query or form). Besides the state's own token (which sees every account), ``state.grants`` issues
tokens limited to some ad accounts, each with its own app secret, and revocable (code 190/460). Errors, throttling,
usage headers and the 4-budget-changes-per-hour rule behave as documented by Meta; faults from
``state.faults`` are injected before anything else happens. Point the official SDK at it by setting
``FacebookAdsApi.get_default_api()._session.GRAPH`` to the served base URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.policy
import hmac
import re
from collections.abc import Mapping
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from streams.lab.sandbox.meta_create import BID_STRATEGIES, create
from streams.lab.sandbox.meta_errors import (
    MetaApiError,
    bad_appsecret_proof,
    bad_token,
    invalid_parameter,
    missing_appsecret_proof,
    no_ads_permission,
    session_invalidated,
    unknown_object,
    unknown_path,
)
from streams.lab.sandbox.meta_faults import Fault
from streams.lab.sandbox.meta_insights import query_insights
from streams.lab.sandbox.meta_read import node, read, read_ads
from streams.lab.sandbox.meta_state import MetaState, appsecret_proof
from streams.lab.sandbox.meta_usage import UseCase

VERSION = re.compile(r"^v\d+\.\d+$")


def create_meta_app(state: MetaState) -> Starlette:
    """The Graph API stand-in over ``state`` (which the caller keeps, to inspect and steer)."""

    async def node(request: Request) -> Response:
        return await _handle(state, request, edge=None)

    async def edge(request: Request) -> Response:
        return await _handle(state, request, edge=request.path_params["edge"])

    return Starlette(
        routes=[
            Route("/{version}/{object_id}", node, methods=["GET", "POST"]),
            Route("/{version}/{object_id}/{edge}", edge, methods=["GET", "POST"]),
        ]
    )


async def _params(request: Request) -> tuple[dict[str, str], dict[str, bytes]]:
    """Query and form parameters, and the files of a multipart upload (``advideos``' ``source``)."""
    params = dict(request.query_params)
    files: dict[str, bytes] = {}
    if request.method == "POST":
        raw = await request.body()
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            message = BytesParser(policy=email.policy.HTTP).parsebytes(
                f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                payload = part.get_payload(decode=True)
                if not isinstance(name, str) or not isinstance(payload, bytes):
                    continue
                if part.get_filename() is not None:
                    files[name] = payload
                else:
                    params[name] = payload.decode("utf-8", errors="replace")
        else:
            # Graph API clients (the SDK included) send form-urlencoded bodies; multipart is for uploads.
            params.update(parse_qsl(raw.decode("utf-8", errors="replace"), keep_blank_values=True))
    return params, files


def _error(err: MetaApiError, headers: Mapping[str, str]) -> JSONResponse:
    return JSONResponse(err.body(), status_code=err.http_status, headers=dict(headers))


async def _handle(state: MetaState, request: Request, edge: str | None) -> Response:
    method, path = request.method, request.url.path
    object_id: str = request.path_params["object_id"]
    params, files = await _params(request)
    with state.lock:
        now = state.now()
        state.requests.append((method, path, now))
        state.traceparents.append(request.headers.get("traceparent"))
        fault = state.faults.take(method, path)
        account = state.account_of(object_id)
    use_case: UseCase = "ads_insights" if edge == "insights" else "ads_management"
    if fault is not None:
        return await _faulted(state, fault, request, params, account, use_case)
    try:
        _authenticate(state, params, object_id, account)
        if not VERSION.match(request.path_params["version"]):
            raise unknown_path(path)
        with state.lock:
            state.usage.charge(account, use_case, write=method == "POST", now=now)
        if method == "POST" and edge is not None and object_id.startswith("act_"):
            body = create(state, object_id[4:], edge, params, files)
        else:
            body = _dispatch(state, method, object_id, edge, params, str(request.url).split("?")[0])
    except MetaApiError as err:
        with state.lock:
            headers = state.usage.headers(account, use_case, now, err.retry_after_seconds or 0)
        return _error(err, headers)
    with state.lock:
        headers = state.usage.headers(account, use_case, now)
    return JSONResponse(body, headers=headers)


async def _faulted(
    state: MetaState,
    fault: Fault,
    request: Request,
    params: dict[str, str],
    account: str | None,
    use_case: UseCase,
) -> Response:
    object_id = request.path_params["object_id"]
    if fault.apply_effect and request.method == "POST":
        with contextlib.suppress(MetaApiError):  # the effect lands or not; the client sees the fault
            _dispatch(state, "POST", object_id, None, params, "")
    with state.lock:
        headers = state.usage.headers(account, use_case, state.now(), fault.retry_after_seconds)
    if fault.kind == "timeout":
        await asyncio.sleep(state.faults.timeout_seconds)
        err: MetaApiError | None = MetaApiError("Request timed out", code=1, is_transient=True, http_status=504)
    else:
        err = fault.error()
    assert err is not None
    return _error(err, headers)


def _authenticate(state: MetaState, params: Mapping[str, str], object_id: str, account: str | None) -> None:
    token = params.get("access_token")
    if not token:
        raise MetaApiError("An access token is required to request this resource.", code=104)
    with state.lock:
        grant = state.grants.get(token)
    if grant is None and not hmac.compare_digest(token.encode(), state.access_token.encode()):
        raise bad_token(token if state.echo_bad_token else None)
    if grant is not None and grant.revoked:
        raise session_invalidated()
    proof = params.get("appsecret_proof")
    if proof is None:
        if state.require_appsecret_proof:
            raise missing_appsecret_proof()
    elif not hmac.compare_digest(proof, appsecret_proof(token, grant.app_secret) if grant else state.proof()):
        raise bad_appsecret_proof()
    if grant is not None and account is not None and account not in grant.accounts:
        # Meta answers an object of an account the token cannot use as if it did not exist
        raise no_ads_permission(object_id) if object_id.startswith("act_") else unknown_object(object_id)


def _dispatch(
    state: MetaState, method: str, object_id: str, edge: str | None, params: Mapping[str, str], url: str
) -> dict[str, Any]:
    if edge == "insights" and method == "GET":
        if state.account_of(object_id) is None:
            raise unknown_object(object_id)
        return query_insights(state, object_id, params, url)
    if edge == "minimum_budgets" and method == "GET":
        return _minimum_budgets(state, object_id)
    if edge == "ads" and method == "GET":
        return read_ads(state, object_id, params, url)
    if edge is not None:
        raise unknown_path(f"/{object_id}/{edge}")
    if method == "GET":
        return read(state, object_id, params.get("fields", ""))
    return _update(state, object_id, params)


def _minimum_budgets(state: MetaState, object_id: str) -> dict[str, Any]:
    acc = state.accounts.get(object_id.removeprefix("act_")) if object_id.startswith("act_") else None
    if acc is None:
        raise unknown_object(object_id)
    m = acc.min_daily_budget_minor
    return {
        "data": [
            {
                "currency": acc.currency,
                "min_daily_budget_imp": m,
                "min_daily_budget_video_views": m,
                "min_daily_budget_high_freq": 5 * m,
                "min_daily_budget_low_freq": 40 * m,
            }
        ]
    }


def _update(state: MetaState, object_id: str, params: Mapping[str, str]) -> dict[str, Any]:
    node_type, _ = node(state, object_id)
    if node_type not in ("AdSet", "Campaign", "Ad"):
        raise unknown_object(object_id, "post")
    if "status" in params:
        if params["status"] not in ("ACTIVE", "PAUSED"):
            raise invalid_parameter("status must be ACTIVE or PAUSED")
        with state.lock:
            target = state.adsets.get(object_id) or state.campaigns.get(object_id) or state.ads[object_id]
            target.status = params["status"]
    if "bid_amount" in params or "bid_strategy" in params:
        _update_bid(state, node_type, object_id, params)
    if "daily_budget" in params:
        raw = params["daily_budget"]
        if not re.fullmatch(r"\d{1,15}", raw.strip()):
            raise invalid_parameter(f"daily_budget must be a whole number of minor units, got {raw!r}")
        try:
            state.set_daily_budget(object_id, int(raw))
        except KeyError:
            raise unknown_object(object_id, "post") from None
    return {"success": True}


def _update_bid(state: MetaState, node_type: str, object_id: str, params: Mapping[str, str]) -> None:
    if node_type != "AdSet":
        raise invalid_parameter("bid_amount and bid_strategy are set on ad sets")
    strategy = params.get("bid_strategy")
    if strategy is not None and strategy not in BID_STRATEGIES:
        raise invalid_parameter(f"bid_strategy must be one of {', '.join(sorted(BID_STRATEGIES))}")
    raw = params.get("bid_amount")
    if raw is not None and not raw.strip().isdigit():
        raise invalid_parameter(f"bid_amount must be a whole number of minor units, got {raw!r}")
    with state.lock:
        adset = state.adsets[object_id]
        amount = int(raw) if raw is not None else adset.bid_amount
        if (strategy or adset.bid_strategy) in ("LOWEST_COST_WITH_BID_CAP", "COST_CAP") and not amount:
            raise invalid_parameter("bid_amount is required for this bid_strategy", subcode=1815857)
        adset.bid_amount, adset.bid_strategy = amount, strategy or adset.bid_strategy
