"""The executor's guardrails as pure functions over the audit trail: no I/O, no clock of their own.

Everything a check needs is passed in - the proposal, the past changes, the limits (built by
:func:`streams.core.controls.limits.effective_limits`, the one source of them), ``now`` and
whether the kill switch is on - so the live executor and the backtest's replay (with a replay
clock and a history rebuilt from topics) make exactly the same decision for the same inputs::

    decision = evaluate(proposal, history, limits, now, paused=False)
    if decision.action == "apply":
        send(decision.target_minor)

Windows are rolling and half-open on the left, as Meta counts: a change made exactly one hour
ago no longer counts toward the hourly limits (``at > now - 1h``). Money is integer minor units;
the cumulative limit is ``floor(budget_at_window_start * fraction)`` computed exactly.

Checks, in order (each one's result is kept in ``Decision.checks`` and stored with the change):

1. ``kill_switch`` - automation paused for the tenant or campaign: block.
2. ``currency`` - the request's currency must be the entity's: block otherwise.
3. ``platform_minimum``, ``entity_floor``, ``entity_cap`` - the target is moved into bounds
   (policy ``clamp``) or the change blocked (``block``).
4. a target equal to the current budget is a no-op: nothing is sent, nothing is counted.
5. ``entity_hourly_changes`` - fewer than N changes of this entity in the last hour (Meta: 4).
6. ``campaign_hourly_actions`` - fewer than M changes in the entity's campaign in the last hour.
7. ``cumulative_change`` - the sum of absolute changes of this entity within the window (6 h)
   plus this one stays within the fraction (20%) of the budget at the window's start; ``clamp``
   applies the largest allowed part, ``block`` refuses.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from schemas.events import GuardrailResult
from streams.core.controls.limits import Limits

Action = Literal["apply", "noop", "blocked"]
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class PastChange:
    """A budget change from the audit trail that Meta applied (or may have: an open intent)."""

    entity_id: str
    campaign_id: str
    at: datetime
    previous_budget_minor: int | None
    applied_budget_minor: int


@dataclass(frozen=True)
class Proposal:
    """What is about to be sent: the (dithered) target and what the entity has now."""

    entity_id: str
    campaign_id: str
    currency: str
    target_minor: int
    current_minor: int | None
    current_currency: str | None = None


@dataclass(frozen=True)
class Decision:
    action: Action
    target_minor: int | None
    clamped: bool = False
    checks: tuple[GuardrailResult, ...] = field(default_factory=tuple)

    @property
    def failed(self) -> list[GuardrailResult]:
        return [c for c in self.checks if not c.passed]

    @property
    def reason(self) -> str:
        return "; ".join(f"{c.name}: {c.detail}" for c in self.failed)


def dither(budget_minor: int, change_id: str, fraction: float) -> int:
    """Move a budget by a pseudo-random amount within ±fraction, the same for the same change.

    Seeded by ``change_id`` so a redelivered or replayed request gets the identical target; the
    guardrails run after this, so dithering can never push a change past them.
    """
    if fraction <= 0:
        return budget_minor
    seed = int.from_bytes(hashlib.sha256(change_id.encode()).digest()[:8], "big")
    factor = random.Random(seed).uniform(-fraction, fraction)
    return max(0, round(budget_minor * (1 + factor)))


def window_start_budget(entity_changes: Sequence[PastChange], current_minor: int | None) -> int | None:
    """The budget when the window opened: before its first change, or the current one if none."""
    if not entity_changes:
        return current_minor
    first = min(entity_changes, key=lambda c: c.at)
    return first.previous_budget_minor if first.previous_budget_minor is not None else current_minor


def _result(name: str, passed: bool, detail: str, limit: float | None = None,
            observed: float | None = None) -> GuardrailResult:
    return GuardrailResult(name=name, passed=passed, detail=detail, limit=limit, observed=observed)


def _bounds(target: int, limits: Limits) -> tuple[int, list[GuardrailResult], bool, bool]:
    """Platform minimum, floor and cap: returns (target, results, clamped, blocked)."""
    checks: list[GuardrailResult] = []
    clamped = blocked = False
    lower = [("platform_minimum", limits.platform_min_budget_minor), ("entity_floor", limits.floor_minor)]
    for name, bound in lower:
        if bound is None:
            continue
        if target >= bound:
            checks.append(_result(name, True, f"{target} >= {bound}", bound, target))
        elif limits.policy == "clamp":
            checks.append(_result(name, False, f"{target} raised to {bound}", bound, target))
            target, clamped = bound, True
        else:
            checks.append(_result(name, False, f"{target} below {bound}: blocked", bound, target))
            blocked = True
    if limits.cap_minor is not None:
        cap = limits.cap_minor
        if target <= cap:
            checks.append(_result("entity_cap", True, f"{target} <= {cap}", cap, target))
        elif limits.policy == "clamp" and cap >= max(limits.platform_min_budget_minor, limits.floor_minor or 0):
            checks.append(_result("entity_cap", False, f"{target} lowered to {cap}", cap, target))
            target, clamped = cap, True
        else:
            checks.append(_result("entity_cap", False, f"{target} above {cap}: blocked", cap, target))
            blocked = True
    return target, checks, clamped, blocked


def evaluate(proposal: Proposal, history: Sequence[PastChange], limits: Limits, now: datetime,
             *, paused: bool) -> Decision:
    """Decide what may be sent for ``proposal`` given the changes already made (any order)."""
    checks: list[GuardrailResult] = [
        _result("kill_switch", not paused, "automation paused" if paused else "not paused")
    ]
    blocked = paused
    currency_ok = proposal.current_currency in (None, proposal.currency)
    checks.append(_result("currency", currency_ok, f"{proposal.currency} vs entity {proposal.current_currency}"))
    blocked |= not currency_ok

    target, bound_checks, clamped, bound_blocked = _bounds(proposal.target_minor, limits)
    checks.extend(bound_checks)
    blocked |= bound_blocked
    current = proposal.current_minor
    if not blocked and current is not None and target == current:
        return Decision("noop", current, clamped, tuple(checks))

    hour_ago = now - HOUR
    entity_hour = [c for c in history if c.entity_id == proposal.entity_id and hour_ago < c.at <= now]
    n = len(entity_hour)
    limit = limits.max_changes_per_entity_hour
    checks.append(_result("entity_hourly_changes", n < limit, f"{n} changes in the last hour, limit {limit}",
                          limit, n))
    blocked |= n >= limit

    campaign_hour = [c for c in history if c.campaign_id == proposal.campaign_id and hour_ago < c.at <= now]
    m = len(campaign_hour)
    limit = limits.max_actions_per_campaign_hour
    checks.append(_result("campaign_hourly_actions", m < limit, f"{m} actions in the last hour, limit {limit}",
                          limit, m))
    blocked |= m >= limit

    window_from = now - limits.change_window
    in_window = [c for c in history if c.entity_id == proposal.entity_id and window_from < c.at <= now]
    base = window_start_budget(in_window, current)
    if base is None or current is None:
        checks.append(_result("cumulative_change", True, "no known budget yet: this change sets the baseline"))
    else:
        used = sum(abs(c.applied_budget_minor - c.previous_budget_minor)
                   for c in in_window if c.previous_budget_minor is not None)
        allowed = int(base * limits.max_change_fraction)  # floor, exact: Fraction * int
        remaining = allowed - used
        need = abs(target - current)
        if need <= remaining:
            checks.append(_result("cumulative_change", True, f"{used}+{need} <= {allowed} of {base}",
                                  allowed, used + need))
        elif limits.policy == "clamp" and remaining > 0 and not blocked:
            step = remaining if target > current else -remaining
            checks.append(_result("cumulative_change", False,
                                  f"{used}+{need} > {allowed} of {base}: clamped to {current + step}",
                                  allowed, used + need))
            target, clamped = current + step, True
        else:
            checks.append(_result("cumulative_change", False, f"{used}+{need} > {allowed} of {base}: blocked",
                                  allowed, used + need))
            blocked = True

    if blocked:
        return Decision("blocked", None, clamped, tuple(checks))
    return Decision("apply", target, clamped, tuple(checks))
