"""A tenant's Meta ad accounts in the operator API: list them, store or replace their credentials.

- ``GET    /v1/tenants/{t}/ad-accounts`` (VIEWER): accounts, their status (``refused`` with Meta's
  reason when the token stopped working) and which key sealed them - never a token or secret;
- ``PUT    /v1/tenants/{t}/ad-accounts/{account_id}`` (ADMIN): the account's system-user token and
  app secret, sealed before they are stored (:mod:`streams.core.controls.ad_accounts`); the answer
  repeats none of them;
- ``DELETE /v1/tenants/{t}/ad-accounts/{account_id}`` (ADMIN).

Without ``ROASLOOP_CREDENTIALS_KEYS`` nothing can be sealed: a PUT answers 503 naming the setting
rather than storing a secret in the clear. An account registered to another tenant is a 409.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from starlette.responses import Response

from streams.console.endpoint import ApiError, Call, not_found
from streams.console.op import Op
from streams.core.controls import ad_accounts
from streams.core.sealing import Sealer
from streams.core.web import json_response

ACCOUNTS = "/v1/tenants/{tenant_id}/ad-accounts"


class AdAccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    access_token: SecretStr = Field(min_length=10, max_length=1000, description="The system user's token")
    app_secret: SecretStr = Field(min_length=10, max_length=200, description="The Meta app's secret")
    name: str = Field(default="", max_length=200)


def _view(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in row.items()}


async def list_accounts(call: Call) -> Response:
    async with call.context_of().res.pool.acquire() as conn:
        rows = await ad_accounts.list_accounts(conn, call.tenant_id)
    return json_response("ad-accounts", 200, {"tenant_id": call.tenant_id, "accounts": [_view(r) for r in rows]})


def _account(call: Call) -> str:
    try:
        return ad_accounts.normalise(call.path("account_id"))
    except ValueError as exc:
        raise ApiError(400, str(exc), "account_id") from None


async def put_account(call: Call) -> Response:
    res = call.context_of().res
    account = _account(call)
    body = await call.json(AdAccountIn)
    sealer = Sealer.from_setting(res.settings.credentials_keys)
    if sealer is None:
        raise ApiError(503, "ROASLOOP_CREDENTIALS_KEYS is not set: credentials cannot be stored sealed")
    async with res.pool.acquire() as conn:
        try:
            await ad_accounts.save_account(conn, sealer, call.tenant_id, account, access_token=body.access_token,
                                           app_secret=body.app_secret, name=body.name, actor=call.who.sub,
                                           now=res.clock.now())
        except ad_accounts.AccountTaken as exc:
            raise ApiError(409, str(exc), "account_id") from None
        except ValueError as exc:
            field = str(exc).split(":", 1)[0]
            raise ApiError(400, str(exc), field if field.isidentifier() else None) from None
        rows = await ad_accounts.list_accounts(conn, call.tenant_id)
    [row] = [r for r in rows if r["account_id"] == account]
    return json_response("ad-accounts", 200, _view(row))


async def delete_account(call: Call) -> Response:
    res = call.context_of().res
    async with res.pool.acquire() as conn:
        if not await ad_accounts.delete_account(conn, call.tenant_id, _account(call), call.who.sub):
            raise not_found("ad account")
    return json_response("ad-accounts", 200, {"deleted": True})


ROUTES: Sequence[Op] = (
    Op("GET", ACCOUNTS, "VIEWER", list_accounts, "The tenant's Meta ad accounts (no secrets)"),
    Op("PUT", ACCOUNTS + "/{account_id}", "ADMIN", put_account,
       "Store an ad account's token and app secret, sealed", AdAccountIn),
    Op("DELETE", ACCOUNTS + "/{account_id}", "ADMIN", delete_account, "Forget an ad account and its credentials"),
)
