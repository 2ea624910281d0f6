"""Where a tenant's alerts go: a Slack-compatible webhook and e-mail recipients, kept secret.

A Slack incoming-webhook URL *is* a credential (whoever has it posts into the channel), and
recipients' addresses are people's data, so neither is stored, logged or answered in clear:

- the destination is sealed (Fernet: AES-128-CBC + HMAC) under a key derived from
  ``ROASLOOP_HASH_KEY`` with HKDF, so no second secret has to be deployed; the database holds only
  the ciphertext and a *hint* ("https://hooks.slack.com/...", "a…@example.com, +1") that an API
  answer or an audit row may show;
- :func:`check_webhook_url` and :func:`check_recipients` refuse malformed values before anything is
  written, with a ValueError the API turns into a 400 naming the field;
- a tenant without its own channel falls back to the settings' (``ROASLOOP_ALERTS_WEBHOOK_URL``,
  ``ROASLOOP_ALERTS_EMAIL_TO``).
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from streams.core.controls.audit import record_operator_action
from streams.core.controls.versioned import StaleVersion
from streams.core.db import Conn
from streams.core.settings import load_settings

ChannelKind = Literal["webhook", "email"]
KINDS: tuple[ChannelKind, ...] = ("webhook", "email")
MAX_RECIPIENTS = 20
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$")


class Sealer:
    """Seals and opens channel destinations with a key derived from the deployment's hash key."""

    def __init__(self, hash_key: SecretStr) -> None:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                       info=b"roasloop alert channel destinations v1").derive(hash_key.get_secret_value().encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, value: Any) -> bytes:
        return self._fernet.encrypt(json.dumps(value).encode())

    def open(self, sealed: bytes) -> Any:
        """The destination, or ValueError when it was sealed under another key (the hash key changed)."""
        try:
            return json.loads(self._fernet.decrypt(bytes(sealed)))
        except InvalidToken:
            raise ValueError("sealed under another ROASLOOP_HASH_KEY: set the channel again") from None


def check_webhook_url(url: str, *, allow_local: bool) -> str:
    """An https URL of a public host (``allow_local``: also http to this machine, for dev and tests).

    Refused: other schemes, credentials in the URL, IP literals of private or link-local networks
    (a webhook must not be a way to reach the cluster's insides), overly long URLs.
    """
    if not isinstance(url, str) or not url.strip():
        raise ValueError("webhook_url: empty")
    if len(url) > 2000:
        raise ValueError("webhook_url: longer than 2000 characters")
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, ValueError):
        raise ValueError("webhook_url: not a URL") from None
    host = parsed.host
    if not host:
        raise ValueError("webhook_url: no host")
    if parsed.userinfo:
        raise ValueError("webhook_url: credentials in the URL are not accepted")
    local = host in ("localhost", "127.0.0.1", "::1")
    if parsed.scheme != "https" and not (allow_local and local and parsed.scheme == "http"):
        raise ValueError("webhook_url: must be https://")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if (local or (address is not None and not address.is_global)) and not allow_local:
        raise ValueError("webhook_url: must be a public host, not a private or local address")
    return str(parsed)


def check_recipients(recipients: Sequence[str]) -> list[str]:
    """1 to 20 plain addresses (``name@example.com``), deduplicated, in order."""
    if isinstance(recipients, str) or not recipients:
        raise ValueError("recipients: give a list of 1 to 20 e-mail addresses")
    seen: list[str] = []
    for i, address in enumerate(recipients):
        if not isinstance(address, str) or len(address) > 254 or not _EMAIL.match(address.strip()):
            raise ValueError(f"recipients.{i}: not an e-mail address")
        if address.strip().lower() not in (a.lower() for a in seen):
            seen.append(address.strip())
    if len(seen) > MAX_RECIPIENTS:
        raise ValueError(f"recipients: at most {MAX_RECIPIENTS}")
    return seen


def hint(kind: ChannelKind, destination: Any) -> str:
    """What may be shown of a destination: a webhook's scheme and host, recipients' first letters."""
    if kind == "webhook":
        url = httpx.URL(str(destination))
        return f"{url.scheme}://{url.host}/..."
    addresses = list(destination)
    local, _, domain = addresses[0].partition("@")
    more = f", +{len(addresses) - 1}" if len(addresses) > 1 else ""
    return f"{local[:1]}…@{domain}{more}"


class AlertChannelSettings(BaseSettings):
    """The channels of tenants that set none, and whether local webhooks are accepted (``ROASLOOP_ALERTS_*``).

    Read by the alerts stage (which sends) and the console (which shows where alerts go and checks
    a tenant's webhook URL by the same rule).
    """

    model_config = SettingsConfigDict(env_prefix="ROASLOOP_ALERTS_", env_file=None, extra="ignore", frozen=True)

    webhook_url: SecretStr | None = Field(default=None, description="Slack-compatible webhook for every tenant")
    email_to: str | None = Field(default=None, description="Comma-separated recipients for every tenant")
    allow_local_webhooks: bool = Field(default=False,
                                       description="Accept http://127.0.0.1 webhooks (dev and tests only)")

    @field_validator("email_to")
    @classmethod
    def _recipients(cls, value: str | None) -> str | None:
        if value:
            check_recipients([a for a in value.split(",") if a.strip()])
        return value or None

    @model_validator(mode="after")
    def _webhook(self) -> AlertChannelSettings:
        if self.webhook_url is not None:  # the message names the problem, never the URL
            check_webhook_url(self.webhook_url.get_secret_value(), allow_local=self.allow_local_webhooks)
        return self

    def defaults(self) -> Defaults:
        listed = [a for a in (self.email_to or "").split(",") if a.strip()]
        return Defaults(self.webhook_url, tuple(check_recipients(listed)) if listed else ())


def alert_channel_settings() -> AlertChannelSettings:
    return load_settings(AlertChannelSettings)


@dataclass(frozen=True)
class Defaults:
    """The settings' channels, for tenants that set none (``None``: no such default)."""

    webhook_url: SecretStr | None = None
    email_to: tuple[str, ...] = ()

    def destination(self, kind: ChannelKind) -> Any:
        if kind == "webhook":
            return self.webhook_url.get_secret_value() if self.webhook_url else None
        return list(self.email_to) or None


async def save_channel(conn: Conn, sealer: Sealer, tenant_id: str, kind: ChannelKind, destination: Any,
                       actor: str, expected_version: int | None = None) -> int:
    """Set a tenant's channel (already checked); returns the row's new version.

    The audit row names the hint, never the destination. ``expected_version`` (0: "I saw none")
    makes a concurrent edit a :class:`StaleVersion` instead of a silent overwrite.
    """
    shown = hint(kind, destination)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"alert_channels {tenant_id}/{kind}")
        found = int(await conn.fetchval("SELECT version FROM alert_channels WHERE tenant_id = $1 AND kind = $2",
                                        tenant_id, kind) or 0)
        if expected_version is not None and expected_version != found:
            raise StaleVersion(f"alert channel {tenant_id}/{kind}", expected_version, found)
        version = await conn.fetchval(
            "INSERT INTO alert_channels (tenant_id, kind, sealed, hint, updated_by) VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT (tenant_id, kind) DO UPDATE SET sealed = $3, hint = $4, updated_by = $5,"
            " updated_at = now(), version = alert_channels.version + 1 RETURNING version",
            tenant_id, kind, sealer.seal(destination), shown, actor)
        await record_operator_action(conn, tenant_id, actor, "alert_channel.set", kind,
                                     {"kind": kind, "hint": shown, "version": version})
    return int(version)


async def remove_channel(conn: Conn, tenant_id: str, kind: ChannelKind, actor: str) -> bool:
    async with conn.transaction():
        status = await conn.execute("DELETE FROM alert_channels WHERE tenant_id = $1 AND kind = $2", tenant_id, kind)
        removed = status.endswith(" 1")
        await record_operator_action(conn, tenant_id, actor, "alert_channel.remove", kind, {"removed": removed})
    return removed


async def destinations(conn: Conn, sealer: Sealer, tenant_id: str, defaults: Defaults) -> dict[ChannelKind, Any]:
    """Each channel a tenant's notices go to, opened: its own, else the settings' default.

    A destination that cannot be opened (sealed under an older hash key) counts as absent.
    """
    rows = {r["kind"]: r["sealed"] for r in await conn.fetch(
        "SELECT kind, sealed FROM alert_channels WHERE tenant_id = $1", tenant_id)}
    found: dict[ChannelKind, Any] = {}
    for kind in KINDS:
        if kind in rows:
            try:
                found[kind] = sealer.open(rows[kind])
            except ValueError:
                continue
        elif (default := defaults.destination(kind)) is not None:
            found[kind] = default
    return found


async def configured_kinds(conn: Conn, tenant_id: str, defaults: Defaults) -> list[ChannelKind]:
    """The channels a notice for ``tenant_id`` is queued on (nothing is opened to know that)."""
    own = {r["kind"] for r in await conn.fetch("SELECT kind FROM alert_channels WHERE tenant_id = $1", tenant_id)}
    return [k for k in KINDS if k in own or defaults.destination(k) is not None]


async def channel_views(conn: Conn, tenant_id: str, defaults: Defaults) -> list[dict[str, Any]]:
    """Each channel as the API shows it: where it comes from, its hint, how its deliveries fare."""
    own = {r["kind"]: r for r in await conn.fetch(
        "SELECT kind, hint, version, updated_by, updated_at FROM alert_channels WHERE tenant_id = $1", tenant_id)}
    status = {r["kind"]: r for r in await conn.fetch(
        "SELECT kind, consecutive_failures, failing_since, last_error, last_success_at, last_failure_at"
        " FROM alert_channel_status WHERE tenant_id = $1", tenant_id)}
    views = []
    for kind in KINDS:
        row, st = own.get(kind), status.get(kind)
        default = defaults.destination(kind)
        source = "tenant" if row is not None else ("settings" if default is not None else None)
        views.append({
            "kind": kind, "source": source, "version": int(row["version"]) if row is not None else 0,
            "hint": row["hint"] if row is not None else (hint(kind, default) if default is not None else None),
            "healthy": st is None or st["failing_since"] is None,
            **{k: (st[k].isoformat() if hasattr(st[k], "isoformat") else st[k]) if st is not None else None
               for k in ("consecutive_failures", "failing_since", "last_error", "last_success_at", "last_failure_at")},
        })
    return views
