"""Graph API errors exactly as Meta shapes them, so client code can be tested against the real thing.

Meta answers errors with HTTP 400 (500 for its own failures) and a body
``{"error": {"message", "type", "code", "error_subcode", "is_transient", "fbtrace_id", ...}}``.
Clients branch on ``code``/``error_subcode``/``is_transient``; those values here are Meta's
documented ones (rate limiting: 17/2446079, 613/1487742, 80004/2446079; bad token: 190;
bad parameter: 100).
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from typing import Any

_trace_counter = itertools.count(1)


def fbtrace_id() -> str:
    """An opaque per-response trace id in Meta's style (11 url-safe characters)."""
    digest = hashlib.sha256(f"fbtrace:{next(_trace_counter)}".encode()).hexdigest()
    return "A" + digest[:10]


@dataclass
class MetaApiError(Exception):
    message: str
    type: str = "OAuthException"
    code: int = 1
    error_subcode: int | None = None
    is_transient: bool = False
    http_status: int = 400
    error_user_title: str | None = None
    error_user_msg: str | None = None
    retry_after_seconds: int | None = None  # drives estimated_time_to_regain_access

    def __str__(self) -> str:
        return f"({self.code}/{self.error_subcode}) {self.message}"

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "message": self.message,
            "type": self.type,
            "code": self.code,
            "is_transient": self.is_transient,
            "fbtrace_id": fbtrace_id(),
        }
        if self.error_subcode is not None:
            error["error_subcode"] = self.error_subcode
        if self.error_user_title is not None:
            error["error_user_title"] = self.error_user_title
        if self.error_user_msg is not None:
            error["error_user_msg"] = self.error_user_msg
        return {"error": error}


def invalid_parameter(detail: str, subcode: int | None = None, user_title: str | None = None) -> MetaApiError:
    return MetaApiError(
        "Invalid parameter",
        code=100,
        error_subcode=subcode,
        error_user_title=user_title,
        error_user_msg=detail,
    )


def unknown_object(object_id: str, method: str = "get") -> MetaApiError:
    return MetaApiError(
        f"Unsupported {method} request. Object with ID '{object_id}' does not exist, cannot be loaded due to "
        "missing permissions, or does not support this operation. Please read the Graph API documentation at "
        "https://developers.facebook.com/docs/graph-api",
        type="GraphMethodException",
        code=100,
        error_subcode=33,
    )


def unknown_path(path: str) -> MetaApiError:
    return MetaApiError(f"Unknown path components: {path}", code=2500)


def bad_token(echo: str | None = None) -> MetaApiError:
    """Code 190. Given ``echo``, the message repeats the token as Meta's does for a malformed one
    (``Malformed access token EAAB...``), and so does the proof check's ``error_user_msg``."""
    if echo is not None:
        return MetaApiError(f"Malformed access token {echo}", code=190, error_subcode=463,
                            error_user_msg=f"The access token {echo!r} could not be decrypted")
    return MetaApiError("Invalid OAuth access token - Cannot parse access token", code=190)


def session_invalidated() -> MetaApiError:
    """Code 190 / 460: the token was revoked or its session invalidated (a person must issue a new one)."""
    return MetaApiError(
        "Error validating access token: The session has been invalidated because the user changed their "
        "password or Facebook has changed the session for security reasons.",
        code=190,
        error_subcode=460,
    )


def no_ads_permission(object_id: str) -> MetaApiError:
    """Code 200: the token's system user has no role on this ad account."""
    return MetaApiError(
        f"(#200) Ad account owner has NOT grant ads_management or ads_read permission ({object_id})",
        type="OAuthException",
        code=200,
    )


def missing_appsecret_proof() -> MetaApiError:
    return MetaApiError(
        "API calls from the server require an appsecret_proof argument", type="GraphMethodException", code=100
    )


def bad_appsecret_proof() -> MetaApiError:
    return MetaApiError("Invalid appsecret_proof provided in the API argument", type="GraphMethodException", code=100)


def budget_too_low(minimum_minor: int, currency: str) -> MetaApiError:
    return invalid_parameter(
        f"The daily budget must be at least {minimum_minor} ({currency} minor units).",
        subcode=1885272,
        user_title="Your Budget Is Too Low",
    )


def user_request_limit(retry_after_seconds: int, detail: str | None = None) -> MetaApiError:
    """Code 17 / 2446079: the ad account's (or an ad set's budget-change) limit was reached."""
    return MetaApiError(
        "User request limit reached",
        code=17,
        error_subcode=2446079,
        is_transient=True,
        error_user_title="Ad Account Has Too Many API Calls" if detail is None else "Too Many Budget Changes",
        error_user_msg=detail or "There have been too many calls from this ad-account. Wait a bit and try again.",
        retry_after_seconds=retry_after_seconds,
    )


def account_rate_limit(retry_after_seconds: int = 60) -> MetaApiError:
    """Code 613 / 1487742: too many calls from this ad account."""
    return MetaApiError(
        "Calls to this api have exceeded the rate limit.",
        code=613,
        error_subcode=1487742,
        is_transient=True,
        error_user_msg="There have been too many calls from this ad-account. Please wait a bit and try again.",
        retry_after_seconds=retry_after_seconds,
    )


def buc_rate_limit(retry_after_seconds: int = 300, insights: bool = False) -> MetaApiError:
    """Code 80004 (ads_management) / 80000 (ads_insights), subcode 2446079: business use case limit."""
    return MetaApiError(
        "There have been too many calls to this ad-account. Wait a bit and try again. For more info, please "
        "refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
        code=80000 if insights else 80004,
        error_subcode=2446079,
        is_transient=True,
        retry_after_seconds=retry_after_seconds,
    )


def unknown_error() -> MetaApiError:
    """What Meta answers (HTTP 500) when something on its side breaks."""
    return MetaApiError("An unknown error occurred", code=1, error_subcode=99, is_transient=True, http_status=500)


def service_unavailable() -> MetaApiError:
    return MetaApiError(
        "An unexpected error has occurred. Please retry your request later.",
        code=2,
        is_transient=True,
        http_status=503,
    )
