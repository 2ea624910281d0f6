"""Pure valuation of a deal's stage changes: how much revenue each change credits.

No I/O, no clock: the revenue stage, the sampler's offline simulator and the backtest all run
this same function, so a policy is evaluated against exactly the credit the live system gives.

A deal's *state* is what has been credited so far. Each stage change moves the state and may
produce a :class:`Credit` - the change to the deal's credited total:

- **lead / appointment** (open stages): credit the increase over the highest stage value already
  reached, times the attribution confidence. Stage values are levels (lead 500, appointment
  1,500), so lead -> appointment credits 1,000 and skipping straight to appointment credits
  1,500: the sum of the skipped steps. Moving backwards credits nothing. Once a deal is won or
  lost, open stages credit nothing (a reopened deal is credited again when it closes).
- **won**: the deal amount, when the CRM provides one in the tenant's currency, replaces the
  estimate (kind ``actual``: the change may be negative). Without an amount, the won stage value
  is credited like any other stage (kind ``synthetic``; an amount seen on an earlier won event
  is kept).
- **lost**: everything credited is reversed (kind ``reversal``), the total goes to zero.
- A won/lost event older than the deal's latest won/lost event is stale and ignored, so a
  late-delivered close cannot override a newer one.

The credited total is always ``weighted(level, confidence)`` of the deal's current level
(highest open stage, won amount/value, or zero when lost), never a sum over events: that is why
duplicates and reorderings can never count a deal twice. ``weighted`` rounds half to even in
integer minor units.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Literal

from schemas.pipeline import Canonical, StageValues

CreditKind = Literal["synthetic", "actual", "reversal"]
Status = Literal["open", "won", "lost"]


@dataclass(frozen=True)
class DealState:
    credited_minor: int = 0
    """What the deal has been credited in total (sum of all its credits)."""
    highest_value_minor: int = 0
    """Highest open-stage value reached (unweighted)."""
    status: Status = "open"
    won_amount_minor: int | None = None
    """The CRM's deal amount from a won event, kept if a later won event lacks one."""
    terminal_at: datetime | None = None
    """Event time of the latest won/lost applied."""


@dataclass(frozen=True)
class Credit:
    kind: CreditKind
    amount_minor: int
    """Change to the credited total: >= 0 synthetic, <= 0 reversal, any sign actual."""
    credited_total_minor: int


def weighted(value_minor: int, confidence: float) -> int:
    """``value * confidence`` in whole minor units, half to even (exact: decimal, not float)."""
    product = Decimal(value_minor) * Decimal(repr(confidence))
    return int(product.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def _stale(state: DealState, at: datetime | None) -> bool:
    return state.terminal_at is not None and at is not None and at < state.terminal_at


def apply(
    state: DealState,
    stage: Canonical,
    values: StageValues,
    confidence: float,
    amount_minor: int | None = None,
    at: datetime | None = None,
) -> tuple[DealState, Credit | None]:
    """The deal's next state and the credit this stage change makes (None: it credits nothing).

    ``amount_minor`` is the CRM's deal amount in ``values.currency`` (callers drop amounts in
    another currency); ``at`` is the stage change's event time (orders won/lost events).
    """
    if not 0.0 <= confidence <= 1.0:
        raise ValueError(f"confidence must be in [0, 1], got {confidence}")
    kind: CreditKind
    if stage in ("lead", "appointment"):
        value = values.of(stage)
        if state.status != "open" or value <= state.highest_value_minor:
            return state, None
        new = replace(state, highest_value_minor=value, credited_minor=weighted(value, confidence))
        kind = "synthetic"
    elif stage == "won":
        if _stale(state, at):
            return state, None
        known_amount = amount_minor if amount_minor is not None else state.won_amount_minor
        if known_amount is not None:
            level, kind = known_amount, "actual"
        else:
            level, kind = max(values.won, state.highest_value_minor), "synthetic"
        new = replace(state, status="won", won_amount_minor=known_amount, credited_minor=weighted(level, confidence),
                      terminal_at=at or state.terminal_at)
    else:  # lost
        if _stale(state, at):
            return state, None
        new = replace(state, status="lost", credited_minor=0, terminal_at=at or state.terminal_at)
        kind = "reversal"
    delta = new.credited_minor - state.credited_minor
    if delta == 0:
        return new, None
    return new, Credit(kind=kind, amount_minor=delta, credited_total_minor=new.credited_minor)
