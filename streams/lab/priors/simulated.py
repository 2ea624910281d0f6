"""Priors in simulation: honest features for sandbox ad sets, and a winner index from market history.

The sandbox market has no creatives, so there is nothing for the CTR model's creative and
targeting features to describe (a model trained on all-missing features predicts a constant,
validates at AUC 0.5 and is worth nothing to :class:`~streams.priors.source.CtrAndWinnersPriorSource`).
What a new ad set *does* show before its pipeline speaks are the platform's numbers of its first
days: click-through rate, cost per click and platform results (leads) per click. Those make its
"creative embedding" here (log-scaled, centred, unit length, for cosine search).

The winner index holds past winners of **other** markets (other shipped scenarios, run under
an equal split, a policy that favours nobody): every ad set with its platform embedding and the
pipeline ROAS it eventually earned. Winners are the ad sets whose ROAS ranked in the top half of
their group. Nothing of the evaluated scenario's truth goes in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from streams.priors.features import EntityFeatures
from streams.priors.winners import WinnerIndex
from streams.sampler.state import GroupState

DIM = 3
FIRST_DAYS = 3
# typical levels, so the embedding's coordinates are comparable: CTR 1%, CPC 2.00, 2% leads per click
CENTRE = (math.log(0.01), math.log(200.0), math.log(0.02))


def platform_embedding(state: GroupState, entity_id: str, days: int = FIRST_DAYS) -> tuple[float, ...] | None:
    """The entity's first ``days`` days of platform numbers as a unit vector; None before any click."""
    cells = state.days.get(entity_id, {})
    first = [cells[d] for d in sorted(cells) if cells[d].spend_minor > 0][:days]
    impressions = sum(c.impressions for c in first)
    clicks = sum(c.clicks for c in first)
    spend = sum(c.spend_minor for c in first)
    if clicks <= 0 or impressions <= 0:
        return None
    results = sum(c.results for c in first)
    raw = np.array([math.log(clicks / impressions), math.log(spend / clicks), math.log((results + 0.5) / (clicks + 1))])
    v = raw - np.array(CENTRE)
    norm = float(np.linalg.norm(v))
    return tuple(float(x) for x in (v / norm if norm > 0 else v))


def features_for(state: GroupState, entity_ids: Sequence[str]) -> Mapping[str, EntityFeatures]:
    return {e: EntityFeatures(entity_id=e, embedding=platform_embedding(state, e)) for e in entity_ids}


def winners_from_history(scenarios: Sequence[str], seed: int = 1000) -> WinnerIndex:
    """Past winners of ``scenarios`` (equal split, one run each): embedding of their first days, ROAS earned."""
    from streams.lab.simulation import simulate

    index = WinnerIndex(DIM)
    for name in scenarios:
        states: dict[str, GroupState] = {}
        result = simulate.run(name, "equal", seed, features=None, keep_states=states)
        for state in states.values():
            ids = [e for e in state.days if result.spend_by_entity.get(e, 0) > 0]
            roas = {e: result.revenue_by_entity.get(e, 0) / result.spend_by_entity[e] for e in ids}
            median = float(np.median(list(roas.values()))) if roas else 0.0
            top = [e for e in ids if roas[e] >= median and platform_embedding(state, e) is not None]
            if top:
                vectors = np.array([platform_embedding(state, e) for e in top], dtype=np.float32)
                index.add([f"{name}:{e}" for e in top], vectors, [roas[e] for e in top])
    return index


