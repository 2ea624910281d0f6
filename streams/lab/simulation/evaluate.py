"""The README table: every shipped scenario x seeds x policy, as a share of the oracle's revenue.

``python -m streams.lab.simulation.evaluate [--seeds 10] [--scenarios a,b] [--policies a,b] [--jobs 2]``
prints a Markdown table of mean pipeline revenue as a fraction of the oracle's on the same seed
(one oracle run per scenario and seed, shared by every policy). Every run is independent and
seeded, so ``--jobs`` only changes how long it takes, never the numbers. Slow-ish (minutes on one
core): it is documentation, not a test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor

from streams.lab.policies import POLICY_NAMES
from streams.lab.sandbox.market_scenario import Scenario, list_scenarios
from streams.lab.simulation.simulate import run


def _revenue(task: tuple[str, str, int]) -> int:
    name, policy, seed = task
    return run(Scenario.load(name), policy, seed).pipeline_revenue_minor


def table(scenarios: list[str], seeds: int, policies: list[str] | None = None, jobs: int = 1) -> str:
    policies = policies or [p for p in POLICY_NAMES if p != "oracle"]
    lines = ["| scenario | " + " | ".join(policies) + " |", "|---" * (len(policies) + 1) + "|"]
    means: dict[str, list[float]] = {p: [] for p in policies}
    tasks = [(n, p, s) for n in scenarios for p in ["oracle", *policies] for s in range(seeds)]
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            revenue = dict(zip(tasks, pool.map(_revenue, tasks), strict=True))
    else:
        revenue = {t: _revenue(t) for t in tasks}
    for name in scenarios:
        row = []
        for p in policies:
            shares = [revenue[(name, p, s)] / revenue[(name, "oracle", s)] for s in range(seeds)]
            means[p].append(statistics.fmean(shares))
            row.append(f"{means[p][-1]:.3f}")
        lines.append(f"| {Scenario.load(name).name} | " + " | ".join(row) + " |")
        print(lines[-1], file=sys.stderr, flush=True)
    lines.append("| **mean** | " + " | ".join(f"**{statistics.fmean(means[p]):.3f}**" for p in policies) + " |")
    return "\n".join(lines)


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
