"""What actually happened per entity, at the resolution off-policy evaluation needs.

The sampler's :class:`~streams.sampler.state.GroupState` keeps day cohorts for its posterior; the
evaluation also needs spend and revenue inside an arbitrary decision window, so this ledger keeps:

- spend as per-(entity, day) *snapshots* (a later report replaces the earlier one), spread
  evenly over the UTC day when a window covers part of it;
- revenue as signed credits at the time of the *click* that earned them (``click_occurred_at``,
  else ``occurred_at``), so revenue is charged to the window whose spend bought the click.
"""

from __future__ import annotations

import bisect
import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from schemas.events import RevenueRecognized, SpendReported

DAY_MS = 86_400_000
GroupKey = tuple[str, str]  # (tenant_id, group_id)


def _day_start_ms(day: date) -> int:
    return int(datetime.combine(day, time(0), tzinfo=UTC).timestamp() * 1000)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@dataclass
class Ledger:
    spend: dict[tuple[GroupKey, str], dict[date, int]] = field(default_factory=lambda: defaultdict(dict))
    revenue: dict[tuple[GroupKey, str], list[tuple[int, int]]] = field(default_factory=lambda: defaultdict(list))
    spend_total: dict[tuple[GroupKey, str], int] = field(default_factory=lambda: defaultdict(int))
    revenue_total: dict[tuple[GroupKey, str], int] = field(default_factory=lambda: defaultdict(int))
    currency: str | None = None
    _sorted: dict[tuple[GroupKey, str], tuple[list[int], list[int]]] = field(default_factory=dict, repr=False)

    def add_spend(self, event: SpendReported) -> None:
        key = ((event.tenant_id, event.group_id), event.entity_id)
        days = self.spend[key]
        self.spend_total[key] += event.spend.amount_minor - days.get(event.day, 0)
        days[event.day] = event.spend.amount_minor
        self.currency = self.currency or event.spend.currency

    def add_revenue(self, event: RevenueRecognized, entity_id: str) -> None:
        key = ((event.tenant_id, event.group_id), entity_id)
        cohort = event.click_occurred_at or event.occurred_at
        self.revenue[key].append((_ms(cohort), event.amount.amount_minor))
        self._sorted.pop(key, None)
        self.revenue_total[key] += event.amount.amount_minor
        self.currency = self.currency or event.amount.currency

    def spend_between(self, group: GroupKey, entity: str, start: datetime, end: datetime) -> float:
        """Spend in ``[start, end)``, each day's snapshot spread evenly over its 24 hours."""
        lo, hi = _ms(start), _ms(end)
        total = 0.0
        day = start.astimezone(UTC).date()
        days = self.spend.get((group, entity), {})
        while _day_start_ms(day) < hi:
            minor = days.get(day, 0)
            if minor:
                d0 = _day_start_ms(day)
                overlap = min(hi, d0 + DAY_MS) - max(lo, d0)
                total += minor * max(overlap, 0) / DAY_MS
            day += timedelta(days=1)
        return total

    def revenue_between(self, group: GroupKey, entity: str, start: datetime, end: datetime) -> int:
        """Revenue credited to clicks made in ``[start, end)`` (sorted once, then two bisections)."""
        key = (group, entity)
        if key not in self._sorted:
            credits = sorted(self.revenue.get(key, []))
            self._sorted[key] = ([at for at, _ in credits], [0, *itertools.accumulate(a for _, a in credits)])
        times, prefix = self._sorted[key]
        return prefix[bisect.bisect_left(times, _ms(end))] - prefix[bisect.bisect_left(times, _ms(start))]

    def roas_so_far(self, group: GroupKey, entity: str) -> float | None:
        """Revenue over spend among the facts fed so far: in a time-ordered replay, what was known then.

        This is the reward model of the doubly robust estimate; it must never look ahead, and it
        cannot, because the replay asks at the decision's place in the stream. Running totals keep
        it O(1) per question.
        """
        key = (group, entity)
        spend = self.spend_total.get(key, 0)
        return self.revenue_total.get(key, 0) / spend if spend > 0 else None
