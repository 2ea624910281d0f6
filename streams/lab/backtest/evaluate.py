"""From a replay to off-policy estimates: how logged decisions become bandit rounds.

roasloop does not log one action per decision but a split of a budget. The split is read as a
randomisation of *units of budget*: at decision ``d`` of a group, each unit of budget goes to
entity ``i`` with probability ``share_i`` (the logged propensity). So each decision contributes
``units`` rounds, sampled with a generator seeded from ``(seed, decision_id)``:

- context ``x``  = the decision (group, time, what was known then);
- action ``a``   = the entity the unit went to, drawn from the logged shares;
- propensity     = ``share_a`` of the logged decision;
- reward ``r``   = the entity's pipeline ROAS over the decision's horizon: revenue credited to
  clicks made in ``[t_d, t_next)`` over spend in that window (0 when it spent nothing), where
  ``t_next`` is the group's next decision or ``t_d + horizon``;
- target ``pi``  = the policy's shares at that decision; reward model ``q_hat`` = each entity's
  observed ROAS as of ``t_d`` (no look-ahead), the group's mean where an entity has none.

A policy's value is then its expected ROAS per unit of budget; multiplied by the spend in the
evaluated windows it is the pipeline revenue the policy would have earned with that spend. The
bootstrap resamples whole decisions, since a decision's units share one context.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from streams.lab.backtest.engine import LoggedDecision, ReplayResult
from streams.lab.backtest.estimators import ESTIMATORS, Estimate, estimate
from streams.lab.backtest.policies import decision_rng


@dataclass(frozen=True)
class Window:
    decision: LoggedDecision
    start: datetime
    end: datetime
    spend: tuple[float, ...]
    revenue: tuple[int, ...]

    @property
    def rewards(self) -> tuple[float, ...]:
        return tuple(r / s if s > 0 else 0.0 for r, s in zip(self.revenue, self.spend, strict=True))


@dataclass(frozen=True)
class PolicyEstimate:
    policy: str
    estimates: tuple[Estimate, ...]
    spend_minor: float
    direct_revenue: tuple[float, ...]  # per window: spend x sum_i pi_i r_i, the curve's steps

    def as_dict(self) -> dict[str, object]:
        rows = []
        for e in self.estimates:
            row = e.as_dict()
            row["pipeline_revenue_minor"] = e.value * self.spend_minor
            row["pipeline_revenue_ci_minor"] = [e.low * self.spend_minor, e.high * self.spend_minor]
            rows.append(row)
        return {"policy": self.policy, "spend_minor": self.spend_minor, "estimates": rows}


def windows(result: ReplayResult, horizon: timedelta = timedelta(days=1)) -> list[Window]:
    """Each logged decision's evaluation window and what each entity spent and earned in it."""
    by_group: dict[tuple[str, str], list[LoggedDecision]] = {}
    for d in result.logged:
        by_group.setdefault(d.group, []).append(d)
    out: list[Window] = []
    for decisions in by_group.values():
        for d, following in zip(decisions, [*decisions[1:], None], strict=True):
            start = d.event.occurred_at
            end = following.event.occurred_at if following else start + horizon
            ids = d.entity_ids
            out.append(Window(d, start, end,
                              tuple(result.ledger.spend_between(d.group, e, start, end) for e in ids),
                              tuple(result.ledger.revenue_between(d.group, e, start, end) for e in ids)))
    out.sort(key=lambda w: (w.start, w.decision.event.decision_id))
    return out


def _reward_model(d: LoggedDecision) -> list[float]:
    known = [q for q in d.reward_model if q is not None]
    fallback = float(np.mean(known)) if known else 0.0
    return [q if q is not None else fallback for q in d.reward_model]


def evaluate(result: ReplayResult, *, units: int = 16, seed: int = 0, clip: float | None = None,
             n_boot: int = 300, horizon: timedelta = timedelta(days=1)) -> list[PolicyEstimate]:
    """IPS, SNIPS and DR of every policy in the replay, on the same sampled rounds."""
    spans = [w for w in windows(result, horizon) if sum(w.spend) > 0 or sum(w.revenue) != 0]
    k = max((len(w.decision.entity_ids) for w in spans), default=1)
    actions, rewards, props, clusters, model = [], [], [], [], []
    for c, w in enumerate(spans):
        shares = np.array([a.share for a in w.decision.event.allocations])
        drawn = decision_rng(seed, w.decision.event.decision_id).choice(len(shares), size=units, p=shares)
        q = np.zeros(k)
        q[: len(shares)] = _reward_model(w.decision)
        for a in drawn:
            actions.append(int(a))
            rewards.append(w.rewards[a])
            props.append(float(shares[a]))
            clusters.append(c)
            model.append(q)
    order = {w.decision.event.decision_id: i for i, w in enumerate(spans)}
    spend_total = float(sum(sum(w.spend) for w in spans))
    out: list[PolicyEstimate] = []
    for run in result.runs:
        target_by_window = np.zeros((len(spans), k))
        for pd in run.decisions:
            if pd.decision_id in order:
                target_by_window[order[pd.decision_id], : len(pd.choice.shares)] = pd.choice.shares
        target = target_by_window[clusters] if clusters else np.zeros((0, k))
        estimates = tuple(
            estimate(name, actions, rewards, props, target, np.array(model).reshape(-1, k), clip=clip,
                     clusters=clusters, n_boot=n_boot, seed=seed)
            for name in ESTIMATORS
        )
        direct = tuple(
            sum(w.spend) * float(np.dot(target_by_window[i, : len(w.rewards)], _observed_or_model(w)))
            for i, w in enumerate(spans)
        )
        out.append(PolicyEstimate(run.name, estimates, spend_total, direct))
    return out


def _observed_or_model(w: Window) -> list[float]:
    model = _reward_model(w.decision)
    return [r if s > 0 else q for r, s, q in zip(w.rewards, w.spend, model, strict=True)]


def logged_revenue_steps(result: ReplayResult, horizon: timedelta = timedelta(days=1)) -> list[tuple[datetime, int]]:
    """Actual pipeline revenue per window, for the logged curve."""
    return [(w.start, sum(w.revenue)) for w in windows(result, horizon)]


