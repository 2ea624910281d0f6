"""Find the click a conversion came from: three layers, first match wins.

1. **url** - the CRM carried a URL parameter from the landing page: roasloop's click id
   (``rl_cid``), Meta's ``fbclid``, or the UTM ad id. Confidence 1.0. A UTM ad id names the ad,
   not a click, so the most recent click on that ad stands in for the click (for latency).
2. **fingerprint** - the keyed hash of the contact's normalized email, or a device id, seen on
   a click. Confidence 0.9, most recent click.
3. **probabilistic** - the same hashed IP *and* hashed user agent, most recent click. Shared
   IPs (offices, carrier NAT) make this a guess, so confidence is
   ``0.7 * same_ad / candidates``: of the most recent ``candidates`` clicks (at most
   ``probabilistic_candidates``) with that IP+UA in the window, the share that point to the ad
   of the chosen click. All on one ad: 0.7; 2 of 3 on it: 0.467; and so on.

Only clicks inside the window ``[conversion - window_days, conversion + clock_skew]`` match, at
every layer: a click older than the tenant's window never gets credit, and the skew tolerates a
tracker whose clock runs a little ahead of the CRM's. All six lookups run as one statement (one
round trip); each uses its own partial index on ``clicks``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from schemas.events import AttributionMethod, ContactSignals, MatchedOn
from streams.core.db import Conn

URL_CONFIDENCE = 1.0
FINGERPRINT_CONFIDENCE = 0.9
PROBABILISTIC_CONFIDENCE = 0.7

LAYER_OF: dict[str, tuple[AttributionMethod, float]] = {
    "click_id": ("url", URL_CONFIDENCE),
    "fbclid": ("url", URL_CONFIDENCE),
    "utm_ad_id": ("url", URL_CONFIDENCE),
    "email": ("fingerprint", FINGERPRINT_CONFIDENCE),
    "device_id": ("fingerprint", FINGERPRINT_CONFIDENCE),
    "ip_user_agent": ("probabilistic", PROBABILISTIC_CONFIDENCE),
}


def probabilistic_confidence(same_ad: int, candidates: int) -> float:
    """``0.7 * same_ad / candidates``, rounded to 4 places: lowered when candidates disagree."""
    if candidates <= 0 or not 0 < same_ad <= candidates:
        raise ValueError(f"need 0 < same_ad <= candidates, got {same_ad}/{candidates}")
    return round(PROBABILISTIC_CONFIDENCE * same_ad / candidates, 4)


@dataclass(frozen=True)
class Match:
    """One candidate click. ``adset_id``/``campaign_id`` are None while the ad is not in the catalog."""

    method: AttributionMethod
    matched_on: MatchedOn
    confidence: float
    click_id: str
    ad_id: str
    click_occurred_at: datetime
    adset_id: str | None
    campaign_id: str | None
    group_id: str | None

    @property
    def known(self) -> bool:
        return self.adset_id is not None and self.campaign_id is not None


def merge_signals(signals: list[ContactSignals]) -> ContactSignals:
    """The first non-empty value of each field: later stage events may know more about a contact."""
    merged: dict[str, Any] = {}
    for item in signals:
        for name, value in item.model_dump().items():
            if merged.get(name) is None and value:
                merged[name] = value
    return ContactSignals(**merged)


_COLUMNS = "c.click_id, c.ad_id, c.occurred_at, h.adset_id, h.campaign_id, h.group_id"
_JOIN = "LEFT JOIN ad_hierarchy h ON h.tenant_id = c.tenant_id AND h.ad_id = c.ad_id"
_WINDOW = "c.tenant_id = $1 AND c.occurred_at BETWEEN $2 AND $3"


def _layer(rank: int, name: str, condition: str) -> str:
    return (
        f"(SELECT {rank} AS rank, '{name}' AS matched_on, {_COLUMNS}, 1::bigint AS same_ad, 1::bigint AS n"
        f" FROM clicks c {_JOIN} WHERE {_WINDOW} AND {condition} ORDER BY c.occurred_at DESC LIMIT 1)"
    )


MATCH_SQL = " UNION ALL ".join([
    _layer(1, "click_id", "c.click_id = $4"),
    _layer(2, "fbclid", "c.fbclid = $5"),
    _layer(3, "utm_ad_id", "c.ad_id = $6"),
    _layer(4, "email", "c.email_hash = $7"),
    _layer(5, "device_id", "c.device_id = $8"),
    f"""(SELECT 6 AS rank, 'ip_user_agent' AS matched_on, {_COLUMNS},
            count(*) OVER (PARTITION BY c.ad_id) AS same_ad, count(*) OVER () AS n
         FROM (SELECT * FROM clicks c WHERE {_WINDOW} AND c.ip_hash = $9 AND c.user_agent_hash = $10
               ORDER BY c.occurred_at DESC LIMIT $11) c
         {_JOIN} ORDER BY c.occurred_at DESC LIMIT 1)""",
]) + " ORDER BY rank"


async def candidates(
    conn: Conn,
    tenant_id: str,
    signals: ContactSignals,
    conversion_at: datetime,
    window_days: int,
    clock_skew_seconds: float,
    max_probabilistic: int = 100,
) -> list[Match]:
    """Every layer's best click, best layer first (empty: nothing in the window matches)."""
    both = signals.ip_hash and signals.user_agent_hash
    rows = await conn.fetch(
        MATCH_SQL,
        tenant_id,
        conversion_at - timedelta(days=window_days),
        conversion_at + timedelta(seconds=clock_skew_seconds),
        signals.click_id,
        signals.fbclid,
        signals.utm_ad_id,
        signals.email_hash,
        signals.device_id,
        signals.ip_hash if both else None,
        signals.user_agent_hash if both else None,
        max_probabilistic,
    )
    matches = []
    for row in rows:
        method, confidence = LAYER_OF[row["matched_on"]]
        if method == "probabilistic":
            confidence = probabilistic_confidence(row["same_ad"], row["n"])
        matches.append(Match(
            method=method, matched_on=row["matched_on"], confidence=confidence, click_id=row["click_id"],
            ad_id=row["ad_id"], click_occurred_at=row["occurred_at"], adset_id=row["adset_id"],
            campaign_id=row["campaign_id"], group_id=row["group_id"],
        ))
    return matches


def choose(matches: list[Match], *, final: bool) -> tuple[Match | None, str | None]:
    """First match wins; returns ``(match, waiting_ad_id)``.

    While the deal may still wait (``final`` false), a best match whose ad the catalog does not
    know yet is waited for (its ad id returned) rather than passed over for a weaker layer. Once
    the wait is over (``final``), the best match with a known ad wins.
    """
    if not matches:
        return None, None
    if not final:
        best = matches[0]
        return (best, None) if best.known else (None, best.ad_id)
    return next((m for m in matches if m.known), None), None
