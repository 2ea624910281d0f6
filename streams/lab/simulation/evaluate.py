"""The README table: every scenario x seeds x policy, as a share of the guarded oracle's expected value.

``python -m streams.lab.simulation.evaluate [--seeds 10] [--scenarios a,b] [--policies a,b] [--jobs 2]``
prints two Markdown tables. The first: per cell, the mean over seeds of the *expected* pipeline
value of the budgets the policy set, as a fraction of the guarded oracle's on the same seed (the
market knows its truth, so the luck of which deal closed does not enter; realized revenue over ten
seeds is noisy to +-0.1), with the standard error of that mean. The second: spend share (spent /
the groups' totals) and budget changes per run, means over seeds. Every run is independent and
seeded, so ``--jobs`` only changes how long it takes, never the numbers. Slow (minutes): it is
documentation, not a test.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from streams.lab.policies import POLICY_NAMES
from streams.lab.sandbox.market_scenario import Scenario, list_scenarios
from streams.lab.simulation.simulate import run


@dataclass(frozen=True)
class Cell:
    expected_minor: int
    spend_share: float
    changes: int


def _run(task: tuple[str, str, int]) -> Cell:
    name, policy, seed = task
    r = run(Scenario.load(name), policy, seed, drain_days=0)  # the expected value needs no drain
    return Cell(r.expected_pipeline_value_minor, r.spend_minor / r.total_budget_minor if r.total_budget_minor else 0.0,
                r.budget_changes)


def mean_se(xs: list[float]) -> tuple[float, float]:
    """Mean and its standard error (0 for a single value)."""
    m = statistics.fmean(xs)
    return m, (statistics.stdev(xs) / math.sqrt(len(xs)) if len(xs) > 1 else 0.0)


def table(scenarios: list[str], seeds: int, policies: list[str] | None = None, jobs: int = 1) -> str:
    policies = policies or [p for p in POLICY_NAMES if p != "oracle"]
    tasks = [(n, p, s) for n in scenarios for p in ["oracle", *policies] for s in range(seeds)]
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            cells = dict(zip(tasks, pool.map(_run, tasks), strict=True))
    else:
        cells = {t: _run(t) for t in tasks}
    head = "| scenario | " + " | ".join(policies) + " |"
    rule = "|---" * (len(policies) + 1) + "|"
    shares, usage = [head, rule], [head, rule]
    means: dict[str, list[float]] = {p: [] for p in policies}
    for name in scenarios:
        row, use = [], []
        for p in policies:
            m, se = mean_se([cells[(name, p, s)].expected_minor / cells[(name, "oracle", s)].expected_minor
                             for s in range(seeds)])
            means[p].append(m)
            row.append(f"{m:.3f} ± {se:.3f}")
            spend = statistics.fmean(cells[(name, p, s)].spend_share for s in range(seeds))
            changes = statistics.fmean(cells[(name, p, s)].changes for s in range(seeds))
            use.append(f"{spend:.3f} / {changes:.0f}")
        label = Scenario.load(name).name
        shares.append(f"| {label} | " + " | ".join(row) + " |")
        usage.append(f"| {label} | " + " | ".join(use) + " |")
        print(shares[-1], usage[-1], sep="\n", file=sys.stderr, flush=True)
    shares.append("| **mean** | " + " | ".join(f"**{statistics.fmean(means[p]):.3f}**" for p in policies) + " |")
    return ("Expected pipeline value, share of the guarded oracle (mean ± standard error over seeds)\n\n"
            + "\n".join(shares) + "\n\nSpend share / budget changes per run (means over seeds)\n\n" + "\n".join(usage))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--scenarios", default=",".join(p.stem for p in list_scenarios()))
    parser.add_argument("--policies", default=None, help="comma-separated (default: every policy but the oracle)")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    args = parser.parse_args()
    policies = args.policies.split(",") if args.policies else None
    print(table(args.scenarios.split(","), args.seeds, policies, args.jobs))


if __name__ == "__main__":
    main()
