"""Meta's rate-limit accounting and the usage headers that report it.

Meta scores every Marketing API call per ad account and business use case (reads 1 point,
writes 3), decays the score over a window, and blocks the account for a while once the score
passes the tier's maximum (development tier: 60 points, 300 s decay, 300 s block; standard tier:
9000 points, 300 s decay, 60 s block). Each response carries ``X-Business-Use-Case-Usage``,
``X-Ad-Account-Usage`` and ``X-App-Usage`` so well-behaved clients slow down *before* the block.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from streams.lab.sandbox.meta_errors import MetaApiError, buc_rate_limit, user_request_limit

UseCase = Literal["ads_management", "ads_insights"]


@dataclass(frozen=True)
class UsageTier:
    name: str = "standard_access"
    max_score: float = 9000.0
    decay_seconds: float = 300.0
    block_seconds: int = 60
    read_cost: float = 1.0
    write_cost: float = 3.0
    app_calls_per_hour: int = 20_000


DEVELOPMENT_TIER = UsageTier("development_access", 60.0, 300.0, 300)


@dataclass
class _Score:
    points: float = 0.0
    at: datetime | None = None
    blocked_until: datetime | None = None


@dataclass
class MetaUsage:
    """Per-account, per-use-case scores plus the app-wide call count, all on the state's clock."""

    tier: UsageTier = field(default_factory=UsageTier)
    _scores: dict[tuple[str, UseCase], _Score] = field(default_factory=dict)
    _app_calls: list[datetime] = field(default_factory=list)

    def _decayed(self, key: tuple[str, UseCase], now: datetime) -> _Score:
        score = self._scores.setdefault(key, _Score(at=now))
        if score.at is not None:
            elapsed = max(0.0, (now - score.at).total_seconds())
            score.points = max(0.0, score.points - elapsed * self.tier.max_score / self.tier.decay_seconds)
        score.at = now
        return score

    def charge(self, account_id: str | None, use_case: UseCase, write: bool, now: datetime) -> None:
        """Count one call; raise Meta's throttling error when the account is (or becomes) blocked."""
        cutoff = now - timedelta(hours=1)
        self._app_calls = [t for t in self._app_calls if t > cutoff]
        self._app_calls.append(now)
        if account_id is None:
            return
        score = self._decayed((account_id, use_case), now)
        if score.blocked_until is not None and now < score.blocked_until:
            raise self._throttle(use_case, math.ceil((score.blocked_until - now).total_seconds()))
        score.points += self.tier.write_cost if write else self.tier.read_cost
        if score.points > self.tier.max_score:
            score.blocked_until = now + timedelta(seconds=self.tier.block_seconds)
            raise self._throttle(use_case, self.tier.block_seconds)

    @staticmethod
    def _throttle(use_case: UseCase, seconds: int) -> MetaApiError:
        if use_case == "ads_insights":
            return buc_rate_limit(seconds, insights=True)
        return user_request_limit(seconds)

    def percent(self, account_id: str, use_case: UseCase, now: datetime) -> float:
        score = self._decayed((account_id, use_case), now)
        return round(min(100.0, 100.0 * score.points / self.tier.max_score), 2)

    def regain_seconds(self, account_id: str, use_case: UseCase, now: datetime) -> int:
        score = self._scores.get((account_id, use_case))
        if score is None or score.blocked_until is None or now >= score.blocked_until:
            return 0
        return math.ceil((score.blocked_until - now).total_seconds())

    def headers(
        self, account_id: str | None, use_case: UseCase, now: datetime, extra_block_seconds: int = 0
    ) -> dict[str, str]:
        """The three usage headers after this call. ``estimated_time_to_regain_access`` is minutes."""
        app_pct = min(100, round(100 * len(self._app_calls) / self.tier.app_calls_per_hour))
        headers = {
            "X-App-Usage": json.dumps(
                {"call_count": app_pct, "total_cputime": app_pct // 2, "total_time": app_pct // 2}
            )
        }
        if account_id is None:
            return headers
        pct = self.percent(account_id, use_case, now)
        regain = max(self.regain_seconds(account_id, use_case, now), extra_block_seconds)
        minutes = (regain + 59) // 60
        headers["X-Business-Use-Case-Usage"] = json.dumps(
            {
                account_id: [
                    {
                        "type": use_case,
                        "call_count": round(pct),
                        "total_cputime": round(pct / 2),
                        "total_time": round(pct / 2),
                        "estimated_time_to_regain_access": minutes,
                        "ads_api_access_tier": self.tier.name,
                    }
                ]
            }
        )
        headers["X-Ad-Account-Usage"] = json.dumps(
            {
                "acc_id_util_pct": pct,
                "reset_time_duration": regain if regain else int(self.tier.decay_seconds * pct / 100),
                "ads_api_access_tier": self.tier.name,
            }
        )
        return headers
