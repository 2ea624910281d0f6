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
round trip), for one deal or a whole batch of them; each uses its own partial index on ``clicks``.
"""

from __future__ import annotations

from collections.abc import Sequence
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
_WINDOW = "c.tenant_id = q.tenant_id AND c.occurred_at BETWEEN q.lo AND q.hi"


def _layer(rank: int, name: str, condition: str) -> str:
    return (
        f"(SELECT {rank} AS rank, '{name}' AS matched_on, {_COLUMNS}, 1::bigint AS same_ad, 1::bigint AS n"
        f" FROM clicks c {_JOIN} WHERE {_WINDOW} AND {condition} ORDER BY c.occurred_at DESC LIMIT 1)"
    )


# One row of ``q`` per query (its ordinality ``i``), each joined laterally to the six layers: a batch of
# deals costs one round trip, and every layer still runs as its own index probe per deal.
MATCH_SQL = (
    "SELECT q.i, m.* FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[], $4::text[], $5::text[],"
    " $6::text[], $7::text[], $8::text[], $9::text[], $10::text[]) WITH ORDINALITY"
    " AS q(tenant_id, lo, hi, click_id, fbclid, utm_ad_id, email_hash, device_id, ip_hash, user_agent_hash, i)"
    " CROSS JOIN LATERAL ("
    + " UNION ALL ".join([
        _layer(1, "click_id", "c.click_id = q.click_id"),
        _layer(2, "fbclid", "c.fbclid = q.fbclid"),
        _layer(3, "utm_ad_id", "c.ad_id = q.utm_ad_id"),
        _layer(4, "email", "c.email_hash = q.email_hash"),
        _layer(5, "device_id", "c.device_id = q.device_id"),
        f"""(SELECT 6 AS rank, 'ip_user_agent' AS matched_on, {_COLUMNS},
                count(*) OVER (PARTITION BY c.ad_id) AS same_ad, count(*) OVER () AS n
             FROM (SELECT * FROM clicks c WHERE {_WINDOW} AND c.ip_hash = q.ip_hash
                   AND c.user_agent_hash = q.user_agent_hash ORDER BY c.occurred_at DESC LIMIT $11) c
             {_JOIN} ORDER BY c.occurred_at DESC LIMIT 1)""",
    ])
    + ") m ORDER BY q.i, m.rank"
)


@dataclass(frozen=True)
class Query:
    """What one deal is matched on: its tenant, merged signals, conversion time and the tenant's window."""

    tenant_id: str
    signals: ContactSignals
    conversion_at: datetime
    window_days: int


async def candidates_many(
    conn: Conn, queries: Sequence[Query], clock_skew_seconds: float, max_probabilistic: int = 100,
) -> list[list[Match]]:
    """Every layer's best click for each query, best layer first, in the order of ``queries``."""
    found: list[list[Match]] = [[] for _ in queries]
    if not queries:
        return found
    skew = timedelta(seconds=clock_skew_seconds)
    rows = await conn.fetch(
        MATCH_SQL,
        [q.tenant_id for q in queries],
        [q.conversion_at - timedelta(days=q.window_days) for q in queries],
        [q.conversion_at + skew for q in queries],
        [q.signals.click_id for q in queries],
        [q.signals.fbclid for q in queries],
        [q.signals.utm_ad_id for q in queries],
        [q.signals.email_hash for q in queries],
        [q.signals.device_id for q in queries],
        # IP alone or user agent alone matches nothing: both, or neither
        [q.signals.ip_hash if q.signals.ip_hash and q.signals.user_agent_hash else None for q in queries],
        [q.signals.user_agent_hash if q.signals.ip_hash and q.signals.user_agent_hash else None
         for q in queries],
        max_probabilistic,
    )
    for row in rows:
        method, confidence = LAYER_OF[row["matched_on"]]
        if method == "probabilistic":
            confidence = probabilistic_confidence(row["same_ad"], row["n"])
        found[row["i"] - 1].append(Match(
            method=method, matched_on=row["matched_on"], confidence=confidence, click_id=row["click_id"],
            ad_id=row["ad_id"], click_occurred_at=row["occurred_at"], adset_id=row["adset_id"],
            campaign_id=row["campaign_id"], group_id=row["group_id"],
        ))
    return found


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
