"""What actually happened per entity, at the resolution off-policy evaluation needs.

The sampler's :class:`~streams.sampler.state.GroupState` keeps day cohorts for its posterior; the
evaluation also needs spend and revenue inside an arbitrary decision window, so this ledger keeps:

- spend as per-(entity, day) *snapshots* (a later report replaces the earlier one). The increase
  a snapshot reports over the previous one was spent between the two reports (clamped to the
  UTC day), and is spread evenly over that span when a window covers part of it. Spreading a
  whole day's total evenly instead would charge a budget raised at noon partly to the morning,
  biasing every per-window ROAS toward the entities whose budgets grow;
- revenue as signed credits at the time of the *click* that earned them (``click_occurred_at``,
  else ``occurred_at``), so revenue is charged to the window whose spend bought the click.
"""

from __future__ import annotations

import bisect
import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

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
    segments: dict[tuple[GroupKey, str], list[tuple[int, int, int]]] = field(
        default_factory=lambda: defaultdict(list))
    last_report: dict[tuple[GroupKey, str, date], tuple[int, int]] = field(default_factory=dict)
    spend_total: dict[tuple[GroupKey, str], int] = field(default_factory=lambda: defaultdict(int))
    revenue_total: dict[tuple[GroupKey, str], int] = field(default_factory=lambda: defaultdict(int))
    currency: str | None = None
    _seg_sorted: dict[tuple[GroupKey, str], tuple[list[int], list[tuple[int, int, int]]]] = field(
        default_factory=dict, repr=False)
    _sorted: dict[tuple[GroupKey, str], tuple[list[int], list[int]]] = field(default_factory=dict, repr=False)

    def add_spend(self, event: SpendReported) -> None:
        key = ((event.tenant_id, event.group_id), event.entity_id)
        days = self.spend[key]
        value = event.spend.amount_minor
        self.spend_total[key] += value - days.get(event.day, 0)
        days[event.day] = value
        day_start = _day_start_ms(event.day)
        reported = min(max(_ms(event.occurred_at), day_start), day_start + DAY_MS)
        since, before = self.last_report.get((*key, event.day), (day_start, 0))
        if value != before:
            self.segments[key].append((since, max(reported, since + 1), value - before))
            self._seg_sorted.pop(key, None)
        self.last_report[(*key, event.day)] = (max(reported, since), value)
        self.currency = self.currency or event.spend.currency

    def add_revenue(self, event: RevenueRecognized, entity_id: str) -> None:
        key = ((event.tenant_id, event.group_id), entity_id)
        cohort = event.click_occurred_at or event.occurred_at
        self.revenue[key].append((_ms(cohort), event.amount.amount_minor))
        self._sorted.pop(key, None)
        self.revenue_total[key] += event.amount.amount_minor
        self.currency = self.currency or event.amount.currency

    def spend_between(self, group: GroupKey, entity: str, start: datetime, end: datetime) -> float:
        """Spend in ``[start, end)``: each reported increase spread evenly over the span it covers."""
        key = (group, entity)
        if key not in self._seg_sorted:
            ordered = sorted(self.segments.get(key, []))
            self._seg_sorted[key] = ([lo for lo, _, _ in ordered], ordered)
        starts, ordered = self._seg_sorted[key]
        lo, hi = _ms(start), _ms(end)
        total = 0.0
        # a segment never spans more than a day: only those starting in [lo - 1 day, hi) can overlap
        for seg_lo, seg_hi, amount in ordered[bisect.bisect_left(starts, lo - DAY_MS):bisect.bisect_left(starts, hi)]:
            overlap = min(hi, seg_hi) - max(lo, seg_lo)
            if overlap > 0:
                total += amount * overlap / (seg_hi - seg_lo)
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
