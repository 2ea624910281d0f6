"""Stop-loss: propose pausing an ad set that is clearly below break-even, and resuming one that was not.

Thompson sampling starves a loser down to its exploration floor and platform minimum, but never
to zero: an ad set whose pipeline ROAS is clearly below the tenant's break-even keeps spending its
floor for ever. So each decision also asks, per ad set, the posterior probability that its
pipeline ROAS is below ``break_even_roas``:

- a delivering ad set is proposed for **pause** when that probability exceeds
  ``pause_probability``, but only after ``min_spend_minor`` of spend and ``min_age_days`` since its
  first spend - the posterior of a young or barely-funded ad set is mostly prior and undeveloped
  cohorts (deals arrive days after the click), and Meta's learning phase makes early delivery
  unrepresentative, so learners are protected;
- an ad set that stopped delivering (paused, by a proposal carried out or by hand) is proposed
  for **resume** when its late deals pull that probability under ``resume_probability``. The gap
  between the two thresholds is hysteresis: an ad set near the line is not flipped back and forth.

The probability is the share of seeded posterior draws below break-even (its own generator stream
off the decision's seed), so ``roasloop replay`` with the logged seed reproduces every proposal.

These are **proposals only**: they travel on ``AllocationDecided.status_proposals`` with their
reason (probability, spend, age, break-even). Carrying a pause out on Meta is not done here; a
separate change routes status changes through the executor (guardrails, kill switch, approval,
audit), which is where a proposal becomes a request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from schemas.events import MAX_STATUS_PROPOSALS, StatusProposal
from streams.sampler.model import Posterior
from streams.sampler.state import GroupState


@dataclass(frozen=True)
class StopLossConfig:
    """The stop-loss rule (built from ``ROASLOOP_SAMPLER_STOP_LOSS_*``: the settings hold the defaults)."""

    enabled: bool
    break_even_roas: float
    pause_probability: float
    resume_probability: float
    min_spend_minor: int
    min_age_days: int
    draws: int


def stop_loss_rng(seed: int) -> np.random.Generator:
    """The generator of the stop-loss draws: its own stream, so adding it changed no other draw."""
    return np.random.default_rng(np.random.SeedSequence([seed, 0x5709]))


def lifetime(state: GroupState, entity_id: str, now: datetime) -> tuple[int, int]:
    """The ad set's spend over the retained days and whole days since its first day of spend."""
    spent = [(day, facts.spend_minor) for day, facts in state.days.get(entity_id, {}).items() if facts.spend_minor > 0]
    if not spent:
        return 0, 0
    first = min(day for day, _ in spent)
    return sum(s for _, s in spent), max((now.date() - first).days, 0)


def probability_below(posterior: Posterior, break_even_roas: float, rng: np.random.Generator,
                      draws: int) -> np.ndarray:
    """Per entity, the share of posterior ROAS draws below ``break_even_roas``."""
    return np.asarray((posterior.draw(rng, draws) < break_even_roas).mean(axis=0), dtype=np.float64)


def _reason(action: str, p: float, cfg: StopLossConfig, spend: int, age: int) -> str:
    threshold = cfg.pause_probability if action == "pause" else cfg.resume_probability
    side = ">" if action == "pause" else "<"
    return (f"{action}: P(pipeline ROAS < break-even {cfg.break_even_roas:g}) = {p:.3f} {side} {threshold:g}; "
            f"spend {spend} minor over {age} day(s)")


def propose(state: GroupState, now: datetime, cfg: StopLossConfig, seed: int,
            delivering: Posterior, stopped: Posterior | None) -> list[StatusProposal]:
    """Pause proposals among the ``delivering`` posterior's entities, resume proposals among the
    ``stopped`` one's; deterministic for ``seed``. Empty when the rule is off."""
    if not cfg.enabled:
        return []
    rng = stop_loss_rng(seed)
    proposals: list[StatusProposal] = []
    for posterior, action in ((delivering, "pause"), (stopped, "resume")):
        if posterior is None or not posterior.entity_ids:
            continue
        below = probability_below(posterior, cfg.break_even_roas, rng, cfg.draws)
        for entity_id, p in zip(posterior.entity_ids, below.tolist(), strict=True):
            spend, age = lifetime(state, entity_id, now)
            if action == "pause":
                hit = p > cfg.pause_probability and spend >= cfg.min_spend_minor and age >= cfg.min_age_days
            else:
                hit = p < cfg.resume_probability
            if hit:
                proposals.append(StatusProposal(
                    entity_id=entity_id, action=action, probability_below_break_even=round(p, 6),
                    break_even_roas=cfg.break_even_roas, spend_minor=spend, age_days=age,
                    reason=_reason(action, p, cfg, spend, age)))
    return proposals[:MAX_STATUS_PROPOSALS]


def stopped_entities(state: GroupState, delivering: Sequence[str]) -> tuple[str, ...]:
    """Ad sets the group has spend history for that no longer deliver: the resume candidates.

    Until statuses are recorded (the status-change path), "stopped delivering" is what the sampler
    can see of a pause; an ad set that ended for another reason may be proposed too - a proposal,
    with its reason, never an action."""
    live = set(delivering)
    return tuple(sorted(e for e in state.entities
                        if e not in live and any(f.spend_minor > 0 for f in state.days.get(e, {}).values())))
