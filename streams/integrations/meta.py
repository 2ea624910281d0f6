"""The Graph API client the executor changes budgets with (httpx, async).

Why it looks the way it does:

- ``POST /{version}/{id}`` with ``daily_budget`` in minor units, ``access_token`` and
  ``appsecret_proof`` (HMAC-SHA256 of the token keyed with the app secret) in the *form body*,
  never the URL, so no access log or exception message ever carries the token.
- Throttling (codes 4, 17, 32, 613, 80000-80014), ``is_transient`` errors and 5xx are retried with
  exponential backoff that waits at least Meta's ``estimated_time_to_regain_access`` (minutes, in
  ``X-Business-Use-Case-Usage``) or ``reset_time_duration`` (``X-Ad-Account-Usage``); a wait longer
  than the bound fails the change instead of stalling its campaign for an hour. When usage headers
  report more than the high-water mark, the client pauses *before* the next call.
- An unclear outcome (read timeout, broken connection, 5xx) may have been applied: before trying
  again the client reads the current budget and treats "already at target" as done, so a change
  is never applied twice.
- Permanent errors raise :class:`MetaChangeFailed` carrying Meta's own message - redacted: the
  Graph API repeats the access token in some errors (a malformed one, e.g. with a stray newline),
  and whatever the client returns or raises ends up logged, in ``ad_change_history`` and on
  ``budget.outcomes.v1``. So every body is scrubbed of the token, the app secret and the
  appsecret_proof (and of emails and IPs) the moment it arrives, before it becomes an exception,
  a message or a result (:mod:`streams.core.redaction`, where the client registers its secrets).
- All waiting goes through the injected clock, so tests see backoff without waiting for it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import httpx
from pydantic import SecretStr

from streams.core import tracing
from streams.core.clock import Clock
from streams.core.metrics import EXTERNAL_API_ERRORS, EXTERNAL_API_SECONDS
from streams.core.redaction import register_secret, scrub_text, scrub_value

THROTTLE_CODES = frozenset({4, 17, 32, 613, *range(80000, 80015)})
Kind = Literal["throttled", "transient", "permanent"]


def appsecret_proof(access_token: str, app_secret: str) -> str:
    return hmac.new(app_secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Usage:
    """The highest usage percentage any header reports, and the wait Meta announces (seconds)."""

    max_pct: float = 0.0
    regain_seconds: float = 0.0


def _json_header(headers: Mapping[str, str], name: str) -> Any:
    raw = headers.get(name)
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def parse_usage(headers: Mapping[str, str]) -> Usage:
    """Read ``X-Business-Use-Case-Usage``, ``X-Ad-Account-Usage`` and ``X-App-Usage``."""
    pcts: list[float] = []
    regain = 0.0
    buc = _json_header(headers, "x-business-use-case-usage")
    if isinstance(buc, dict):
        for entries in buc.values():
            for entry in entries if isinstance(entries, list) else []:
                if isinstance(entry, dict):
                    pcts += [float(entry.get(k) or 0) for k in ("call_count", "total_cputime", "total_time")]
                    regain = max(regain, 60.0 * float(entry.get("estimated_time_to_regain_access") or 0))
    account = _json_header(headers, "x-ad-account-usage")
    if isinstance(account, dict):
        pct = float(account.get("acc_id_util_pct") or 0)
        pcts.append(pct)
        if pct >= 100:
            regain = max(regain, float(account.get("reset_time_duration") or 0))
    app = _json_header(headers, "x-app-usage")
    if isinstance(app, dict):
        pcts += [float(app.get(k) or 0) for k in ("call_count", "total_cputime", "total_time")]
    return Usage(max(pcts, default=0.0), regain)


class MetaError(Exception):
    """An error answer from the Graph API, classified for retrying."""

    def __init__(self, status: int, body: Mapping[str, Any], usage: Usage) -> None:
        error = body.get("error") if isinstance(body.get("error"), dict) else {}
        assert isinstance(error, dict)
        self.status = status
        self.body = dict(body)
        self.code = int(error.get("code") or 0)
        self.subcode = error.get("error_subcode")
        self.is_transient = bool(error.get("is_transient"))
        self.message = str(error.get("error_user_msg") or error.get("message") or f"HTTP {status}")
        self.usage = usage
        super().__init__(f"Meta error {self.code}/{self.subcode} (HTTP {status}): {self.message}")

    @property
    def kind(self) -> Kind:
        if self.code in THROTTLE_CODES:
            return "throttled"
        if self.is_transient or self.status >= 500 or self.code in (1, 2):
            return "transient"
        return "permanent"


class MetaUnclear(Exception):
    """The call may or may not have reached Meta (timeout, dropped connection)."""


class MetaChangeFailed(Exception):
    """The change was not applied and will not be retried; ``message`` is Meta's (or ours)."""

    def __init__(self, message: str, attempts: int, response: dict[str, Any] | None = None,
                 maybe_applied: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.attempts = attempts
        self.response = response
        self.maybe_applied = maybe_applied  # an unclear call was never resolved: count it as applied


@dataclass(frozen=True)
class BackoffPolicy:
    base_seconds: float = 1.0
    max_seconds: float = 300.0
    max_attempts: int = 5
    usage_high_water_pct: float = 90.0
    usage_pause_seconds: float = 5.0

    def delay(self, attempt: int, regain_seconds: float = 0.0) -> float:
        """Deterministic exponential backoff (base, 2x base, 4x ...), at least Meta's announced wait."""
        exponential: float = self.base_seconds * 2 ** max(0, attempt - 1)
        return max(exponential, regain_seconds)


@dataclass(frozen=True)
class ApplyResult:
    applied_minor: int
    attempts: int
    response: dict[str, Any]
    reconciled: bool = False


class MetaClient:
    """Budget reads and writes against one Graph API endpoint with one token."""

    def __init__(self, http: httpx.AsyncClient, *, version: str, access_token: SecretStr,
                 app_secret: SecretStr, clock: Clock, policy: BackoffPolicy | None = None) -> None:
        self.http = http
        self.version = version
        self._token = access_token
        self._proof = appsecret_proof(access_token.get_secret_value(), app_secret.get_secret_value())
        for secret in (access_token, app_secret, self._proof):
            register_secret(secret)
        self.clock = clock
        self.policy = policy or BackoffPolicy()
        self._pause_until: datetime | None = None

    @classmethod
    def create(cls, *, graph_url: str, version: str, access_token: SecretStr, app_secret: SecretStr,
               clock: Clock, timeout_seconds: float = 10.0, policy: BackoffPolicy | None = None,
               transport: httpx.AsyncBaseTransport | None = None) -> MetaClient:
        http = httpx.AsyncClient(base_url=graph_url.rstrip("/"), transport=transport,
                                 timeout=httpx.Timeout(timeout_seconds, connect=min(5.0, timeout_seconds)))
        return cls(http, version=version, access_token=access_token, app_secret=app_secret, clock=clock,
                   policy=policy)

    async def aclose(self) -> None:
        await self.http.aclose()

    def _auth(self) -> dict[str, str]:
        return {"access_token": self._token.get_secret_value(), "appsecret_proof": self._proof}

    async def _respect_usage(self) -> None:
        if self._pause_until is not None:
            wait = (self._pause_until - self.clock.now()).total_seconds()
            self._pause_until = None
            if wait > 0:
                await self.clock.sleep(wait)

    def _note_usage(self, usage: Usage) -> None:
        if usage.max_pct >= self.policy.usage_high_water_pct or usage.regain_seconds > 0:
            pause = max(usage.regain_seconds, self.policy.usage_pause_seconds)
            self._pause_until = self.clock.now() + timedelta(seconds=min(pause, self.policy.max_seconds))

    async def _call(self, method: str, entity_id: str, **kwargs: Any) -> dict[str, Any]:
        await self._respect_usage()
        path = f"/{self.version}/{entity_id}"
        kwargs["headers"] = {**kwargs.get("headers", {}), **tracing.headers()}  # the webhook's trace, to Meta
        try:
            with EXTERNAL_API_SECONDS.labels(api="meta", operation=method.lower()).time():
                response = await self.http.request(method, path, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            EXTERNAL_API_ERRORS.labels(api="meta", code="connect").inc()
            raise ConnectionError(f"Meta unreachable: {type(exc).__name__}") from None
        except httpx.TransportError as exc:  # read/write timeouts, dropped connections: unclear
            EXTERNAL_API_ERRORS.labels(api="meta", code="unclear").inc()
            raise MetaUnclear(f"no answer from Meta: {type(exc).__name__}") from None
        usage = parse_usage(response.headers)
        self._note_usage(usage)
        try:
            body = scrub_value(response.json())
        except ValueError:
            body = {"error": {"message": scrub_text(response.text[:500]) or f"HTTP {response.status_code}"}}
        if response.status_code >= 400 or (isinstance(body, dict) and "error" in body):
            error = MetaError(response.status_code, body if isinstance(body, dict) else {}, usage)
            EXTERNAL_API_ERRORS.labels(api="meta", code=str(error.code or response.status_code)).inc()
            raise error
        return body if isinstance(body, dict) else {"result": body}

    async def get_daily_budget(self, entity_id: str) -> int | None:
        body = await self._call("GET", entity_id, params={"fields": "daily_budget", **self._auth()})
        value = body.get("daily_budget")
        return int(value) if value not in (None, "") else None

    async def set_daily_budget(self, entity_id: str, budget_minor: int) -> dict[str, Any]:
        """One POST, no retry."""
        return await self._call("POST", entity_id, data={"daily_budget": str(budget_minor), **self._auth()})

    async def apply_budget(self, entity_id: str, target_minor: int) -> ApplyResult:
        """Set the budget, retrying what is worth retrying; never applies the change twice."""
        attempts = 0
        unclear = False
        last: dict[str, Any] | None = None
        for step in range(1, 2 * self.policy.max_attempts + 1):
            if unclear:
                try:
                    current = await self.get_daily_budget(entity_id)
                except (MetaError, MetaUnclear, ConnectionError) as exc:
                    await self._backoff(step, exc, attempts, last, unclear=True)
                    continue
                if current == target_minor:
                    return ApplyResult(target_minor, attempts, {"reconciled": True, "daily_budget": current}, True)
                unclear = False
            if attempts >= self.policy.max_attempts:
                break
            attempts += 1
            try:
                body = await self.set_daily_budget(entity_id, target_minor)
                return ApplyResult(target_minor, attempts, body)
            except MetaError as exc:
                last = exc.body
                if exc.kind == "permanent":
                    raise MetaChangeFailed(exc.message, attempts, exc.body) from None
                unclear = exc.status >= 500
                await self._backoff(attempts, exc, attempts, last, unclear=unclear)
            except MetaUnclear as exc:
                unclear = True
                await self._backoff(attempts, exc, attempts, last, unclear=True)
            except ConnectionError as exc:
                await self._backoff(attempts, exc, attempts, last, unclear=False)
        raise MetaChangeFailed(f"gave up after {attempts} attempts", attempts, last, maybe_applied=unclear)

    async def _backoff(self, attempt: int, exc: Exception, attempts: int, last: dict[str, Any] | None,
                       *, unclear: bool) -> None:
        regain = exc.usage.regain_seconds if isinstance(exc, MetaError) else 0.0
        delay = self.policy.delay(attempt, regain)
        if delay > self.policy.max_seconds:
            raise MetaChangeFailed(
                f"{exc}; Meta asks to wait {delay:.0f}s, beyond the {self.policy.max_seconds:.0f}s bound",
                attempts, last, maybe_applied=unclear,
            )
        await self.clock.sleep(delay)
