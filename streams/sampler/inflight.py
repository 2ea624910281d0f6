"""Value in flight: each deal's eventual value, known when it resolved, expected while it is open.

A B2B ad set's deals are credited a lead's 500 within hours and a closed-won 60,000 weeks later.
Judged on its credits so far, an ad set whose large deals are still open looks like one that
closes small deals, is cut to its floor, and the velocity guardrail then takes weeks to bring it
back. The revenue events say which deals are still open: their kinds (``actual`` is a won amount,
``reversal`` a loss) and stages (``won``/``lost`` resolve a deal, ``lead``/``appointment`` leave it
open), and the deal's age since its click says how far along its pipeline it should be.

So each deal counts at its *eventual* value: a resolved deal at what it resolved to; an open one
at the expected eventual value of deals that were open at the same stage and age - learnt from
the entity's own resolved deals, shrunk to the group's, shrunk to the deal's own credit (the
neutral prior: "worth what it has been credited") - with that expectation's second moment, so the
spread of what open deals may still become widens the value posterior (``model.dispersion``).
Conditioning on age matters: a young deal's peers that already resolved are mostly quick losses,
an old open deal's are the slow, large wins. A deal open longer than the horizon has stalled and
counts at its credit (the market's stalled deals keep it, so does the realized pipeline value).

Everything is a pure function of the deal records and "now", so replay reproduces it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

import numpy as np
import numpy.typing as npt

from schemas.pipeline import canonical_stage

FloatArray = npt.NDArray[np.float64]
DAY = 86_400.0
AGE_EDGES: tuple[float, ...] = (0.0, 1.0, 3.0, 7.0, 14.0, 28.0)
"""Lower edges (days since the click) of the age bins open deals are compared within."""
OPEN_STAGES = ("lead", "appointment")
MIN_MATURITY = 0.1
"""An open deal's credit is developed at most tenfold: a curve fitted on few deals is noisy young."""
Stage = Literal["lead", "appointment"]


@dataclass(frozen=True)
class DealCredit:
    """What one revenue event says about its deal (beyond the signed amount)."""

    deal_id: str
    kind: str
    stage_id: str
    credited_total_minor: int

    @property
    def resolves(self) -> bool:
        """A won amount, a reversal, or a won/lost stage: the deal's value is final."""
        return self.kind in ("actual", "reversal") or canonical_stage(self.stage_id) in ("won", "lost")

    @property
    def appointment(self) -> bool:
        return canonical_stage(self.stage_id) == "appointment"


@dataclass(slots=True)
class DealRecord:
    """One deal as the sampler keeps it: whose, since when, where it stands."""

    entity_id: str
    start_at: datetime
    """The click that earned it (else its first credit): the deal's age counts from here."""
    credited_minor: int = 0
    appointment_at: datetime | None = None
    resolved_at: datetime | None = None

    def observe(self, credit: DealCredit, at: datetime) -> None:
        self.credited_minor = credit.credited_total_minor
        if credit.resolves:
            self.resolved_at = max(self.resolved_at or at, at)
        elif credit.appointment and self.appointment_at is None:
            self.appointment_at = at

    @property
    def cohort_day(self) -> date:
        return self.start_at.astimezone(UTC).date()

    def stage_at(self, age: float) -> Stage:
        if self.appointment_at is not None and (self.appointment_at - self.start_at).total_seconds() / DAY <= age:
            return "appointment"
        return "lead"


def _bin(age: float) -> int:
    return int(np.searchsorted(AGE_EDGES, age, side="right") - 1)


@dataclass(frozen=True)
class DealValues:
    """Per entity (arrays of length K): deals, their eventual values (expected when open), and the
    values' squares (second moments when open), for the value posterior's sufficient statistics."""

    index: npt.NDArray[np.int64]  # entity index of each deal
    cohort_days: tuple[date, ...]
    value: FloatArray
    value_sq: FloatArray


Maturity = Callable[[FloatArray], FloatArray]


def eventual_values(deals: Mapping[str, DealRecord], entity_ids: Sequence[str], now: datetime,
                    settle_days: float, entity_pseudo: float, lookahead_days: float,
                    maturity: Maturity | None = None, group_pseudo: float = 1.0) -> DealValues:
    """Every deal of ``entity_ids`` at its eventual value as of ``now`` (see module docstring).

    An open deal's peers are the deals that were open at its stage at the start of its age bin and
    have been watched for ``lookahead_days`` since, valued at what they are now (resolved or not).
    Peers that merely *resolved* would be the quick ones - losses come days before wins - and
    would value every young deal at nearly nothing; watching every peer for the same time, as
    chain-ladder development does, keeps the slow wins and the stalls in the comparison.

    ``maturity(age)``: the share of a deal's eventual value the group's development curve says is
    credited by that age. Without peers an open deal is worth its credit developed by it - what
    the curve alone would say - so the valuation starts where the curve-only model stood.
    """
    position = {e: i for i, e in enumerate(entity_ids)}
    nb, k = len(AGE_EDGES), len(entity_ids)
    # per (entity, stage, bin): peers' count, sum and sum of squares of their values now
    stats = np.zeros((k + 1, 2, nb, 3))  # row k: the group (every entity of the state, active or not)
    index: list[int] = []
    days: list[date] = []
    value: list[float] = []
    value_sq: list[float] = []
    open_: list[tuple[DealRecord, float]] = []
    for deal_id in sorted(deals):
        d = deals[deal_id]
        age = max((now - d.start_at).total_seconds() / DAY, 0.0)
        resolved = d.resolved_at is not None and d.resolved_at <= now
        duration = (d.resolved_at - d.start_at).total_seconds() / DAY if resolved and d.resolved_at else age
        v = float(d.credited_minor)
        for b, edge in enumerate(AGE_EDGES):
            if edge >= duration or edge + lookahead_days > age:
                break
            s = OPEN_STAGES.index(d.stage_at(edge))
            for row in ((position[d.entity_id],) if d.entity_id in position else ()) + (k,):
                stats[row, s, b] += (1.0, v, v * v)
        if d.entity_id not in position:
            continue
        if resolved or age >= settle_days:  # final, or stalled: settled at its credit
            index.append(position[d.entity_id])
            days.append(d.cohort_day)
            value.append(v)
            value_sq.append(v * v)
        else:
            open_.append((d, age))
    ages = np.array([age for _, age in open_], dtype=np.float64)
    developed = np.clip(maturity(ages), MIN_MATURITY, 1.0) if maturity is not None else np.ones_like(ages)
    for (d, age), m in zip(open_, developed.tolist(), strict=True):
        i, s, b = position[d.entity_id], OPEN_STAGES.index(d.stage_at(age)), _bin(age)
        c = float(d.credited_minor) / m
        n_g, sum_g, sq_g = stats[k, s, b]
        mean_g = (sum_g + group_pseudo * c) / (n_g + group_pseudo)
        second_g = (sq_g + group_pseudo * c * c) / (n_g + group_pseudo)
        n_e, sum_e, sq_e = stats[i, s, b]
        index.append(i)
        days.append(d.cohort_day)
        value.append((sum_e + entity_pseudo * mean_g) / (n_e + entity_pseudo))
        value_sq.append((sq_e + entity_pseudo * second_g) / (n_e + entity_pseudo))
    return DealValues(np.array(index, dtype=np.int64), tuple(days), np.array(value, dtype=np.float64),
                      np.array(value_sq, dtype=np.float64))
