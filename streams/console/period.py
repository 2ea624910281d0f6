"""The days a page covers: ``?days=N`` back from today, or ``?from=YYYY-MM-DD&to=YYYY-MM-DD``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from streams.console.endpoint import ApiError, Call

MAX_DAYS = 366


@dataclass(frozen=True)
class Period:
    first: date
    last: date

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(), tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """Exclusive: the first instant after the period."""
        return datetime.combine(self.last + timedelta(days=1), time(), tzinfo=UTC)

    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]

    def as_dict(self) -> dict[str, str]:
        return {"from": self.first.isoformat(), "to": self.last.isoformat()}


def _date(call: Call, name: str) -> date | None:
    raw = call.request.query_params.get(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be a date, YYYY-MM-DD", name) from None


def period_of(call: Call, today: date, default_days: int = 30) -> Period:
    first, last = _date(call, "from"), _date(call, "to")
    if first is None and last is None:
        days = call.query_int("days", default_days, 1, MAX_DAYS)
        return Period(today - timedelta(days=days - 1), today)
    last = last or today
    first = first or last - timedelta(days=default_days - 1)
    if first > last:
        raise ApiError(400, "from must not be after to", "from")
    if (last - first).days + 1 > MAX_DAYS:
        raise ApiError(400, f"a page covers at most {MAX_DAYS} days", "from")
    return Period(first, last)
