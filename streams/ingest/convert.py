"""Turning what outside systems send into roasloop's wire values: minor units and keyed hashes.

HubSpot and Meta report money as decimal strings in major units ("1500.50"); roasloop carries
integer minor units, so the conversion goes through :class:`~decimal.Decimal`, never float.
Personal identifiers are hashed here, at the edge, so the raw values never reach a topic.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from pydantic import SecretStr

from schemas.money import MINOR_UNIT_EXPONENT
from streams.core.hashing import keyed_hash, normalize_email


def to_minor(amount: str | int | float, currency: str) -> int:
    """``"1500.50" USD`` -> ``150050``; raises ValueError on garbage or an unknown currency."""
    if currency not in MINOR_UNIT_EXPONENT:
        raise ValueError(f"unknown currency {currency!r}")
    try:
        value = Decimal(str(amount).strip())
    except InvalidOperation:
        raise ValueError(f"{amount!r} is not a decimal amount") from None
    if not value.is_finite():
        raise ValueError(f"{amount!r} is not a finite amount")
    scaled = (value * (10 ** MINOR_UNIT_EXPONENT[currency])).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return int(scaled)


def email_hash(key: SecretStr, email: str | None) -> str | None:
    return keyed_hash(key, normalize_email(email)) if email and email.strip() else None


def ip_hash(key: SecretStr, ip: str | None) -> str | None:
    return keyed_hash(key, ip.strip().lower()) if ip and ip.strip() else None


def user_agent_hash(key: SecretStr, user_agent: str | None) -> str | None:
    return keyed_hash(key, user_agent.strip()) if user_agent and user_agent.strip() else None
