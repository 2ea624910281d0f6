"""The allocation policy the sampler runs, behind the protocol every policy shares.

A :class:`Policy` sees a group's facts (:class:`~streams.sampler.state.GroupState`), the moment,
the entities to allocate over and their platform minimums, and returns an :class:`Allocation`:
shares (propensities, summing to 1) and target budgets summing to the group total. Policies are
deterministic for a given ``numpy`` generator, so a replay with the same seed decides the same.

:class:`Thompson` is the live policy: each entity's share is the posterior probability that it is
best (this package's model). The baselines it is compared with offline (equal split, greedy,
proportional, MABWiser's UCB1 and Thompson, the oracle) live in :mod:`streams.lab.policies`.
"""


from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np

from streams.priors.source import Prior as SourcePrior
from streams.sampler.allocation import (
    Constraints,
    IntArray,
    bounds,
    budgets_for,
    round_preserving_total,
    thompson_shares,
)
from streams.sampler.model import FloatArray, Posterior
from streams.sampler.response import optimal_budgets
from streams.sampler.state import GroupState, ModelConfig


@dataclass(frozen=True)
class Allocation:
    entity_ids: tuple[str, ...]
    shares: FloatArray
    budgets: IntArray
    posterior: Posterior | None = None
    reason: str = ""


@dataclass(frozen=True)
class AllocationRequest:
    """What a policy is asked: split ``total_minor`` over ``entity_ids`` at ``now``."""

    state: GroupState
    now: datetime
    entity_ids: tuple[str, ...]
    min_minor: IntArray
    total_minor: int
    external: Sequence[SourcePrior | None] | None = None


class Policy(Protocol):
    name: str

    def allocate(self, request: AllocationRequest, rng: np.random.Generator) -> Allocation: ...


def constraints_for(req: AllocationRequest, floor_share: float = 0.0, cap_share: float = 1.0) -> Constraints:
    """The group's total and the entities' minimums, with optional exploration floor and cap shares."""
    return Constraints(req.total_minor, req.min_minor, floor_share=floor_share, cap_share=cap_share)



@dataclass
class Thompson:
    """Probability matching on the compound-Poisson pipeline-ROAS posterior."""

    model: ModelConfig
    draws: int | None = None
    floor_share: float | None = None
    cap_share: float | None = None
    """``None``: the model config's (``draws``, ``floor_share``, ``cap_share``)."""
    name: str = "thompson"

    def allocate(self, request: AllocationRequest, rng: np.random.Generator) -> Allocation:
        m = self.model
        draws = m.draws if self.draws is None else self.draws
        floor_share = m.floor_share if self.floor_share is None else self.floor_share
        cap_share = m.cap_share if self.cap_share is None else self.cap_share
        posterior = request.state.posterior(request.entity_ids, request.now, m, request.external)
        constraints = constraints_for(request, floor_share, cap_share)
        if not m.spend_response:
            shares = thompson_shares(posterior, rng, draws)
            budgets = budgets_for(shares, constraints)
            best = int(np.argmax(shares))
            reason = (f"probability matching over {len(shares)} entities; {request.entity_ids[best]} best with "
                      f"p={shares[best]:.2f}, posterior mean ROAS {posterior.mean[best]:.2f}")
            return Allocation(request.entity_ids, shares, budgets, posterior, reason)
        shares = response_shares(posterior, request, constraints, m, rng, draws)
        _, cap = bounds(constraints)
        budgets = round_preserving_total(shares * request.total_minor, request.total_minor, cap)
        best = int(np.argmax(shares))
        reason = (f"probability matching over {len(shares)} entities (expected best split under diminishing "
                  f"returns); {request.entity_ids[best]} largest with share {shares[best]:.2f}, posterior mean "
                  f"ROAS {posterior.mean[best]:.2f}")
        return Allocation(request.entity_ids, shares, budgets, posterior, reason)


def response_shares(posterior: Posterior, request: AllocationRequest, constraints: Constraints,
                    model: ModelConfig, rng: np.random.Generator, draws: int) -> FloatArray:
    """Shares = the posterior expected best split: per joint draw of (ROAS, spend response), the
    split maximising pipeline value; averaged over draws. Under linear delivery each draw's best
    split is everything above the floors to the draw's best entity, so this is probability matching
    (share = floor + P(best) x the rest); under saturation a draw spreads money where marginal
    returns are still high. The shares are the budgets' fractions, so they are the propensities."""
    k = len(request.entity_ids)
    scale = request.total_minor / k
    curves = request.state.response(request.entity_ids, request.now, model, scale)
    floor, cap = bounds(constraints)
    n = max(200, min(draws, 200_000 // max(k, 1)))
    theta = posterior.draw(rng, n)
    a, b = curves.draw(rng, n)
    value = theta * (a + b * curves.typical_x)
    split = optimal_budgets(value, a, b, floor / scale, cap / scale, request.total_minor / scale)
    shares = split.mean(axis=0) * scale / request.total_minor
    return np.asarray(shares / shares.sum(), dtype=np.float64)
