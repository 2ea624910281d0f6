"""The README table: every shipped scenario x seeds x policy, as a share of the oracle's revenue.

``python -m streams.sampler.evaluate [--seeds 10] [--scenarios a,b]`` prints a Markdown table of
mean pipeline revenue as a fraction of the oracle's on the same seed (the oracle run is shared by
every policy of a seed). Slow-ish (minutes): it is documentation, not a test.
"""

from __future__ import annotations

import argparse
import statistics
import sys

from streams.sampler.policies import POLICY_NAMES
from streams.sampler.simulate import run
from streams.sandbox.market_scenario import Scenario, list_scenarios


def table(scenarios: list[str], seeds: int) -> str:
    policies = [p for p in POLICY_NAMES if p != "oracle"]
    lines = ["| scenario | " + " | ".join(policies) + " |", "|---" * (len(policies) + 1) + "|"]
    means: dict[str, list[float]] = {p: [] for p in policies}
    for name in scenarios:
        scenario = Scenario.load(name)
        oracle = [run(scenario, "oracle", s).pipeline_revenue_minor for s in range(seeds)]
        row = []
        for p in policies:
            shares = [run(scenario, p, s).pipeline_revenue_minor / oracle[s] for s in range(seeds)]
            means[p].append(statistics.fmean(shares))
            row.append(f"{means[p][-1]:.3f}")
        lines.append(f"| {scenario.name} | " + " | ".join(row) + " |")
        print(lines[-1], file=sys.stderr, flush=True)
    lines.append("| **mean** | " + " | ".join(f"**{statistics.fmean(means[p]):.3f}**" for p in policies) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--scenarios", default=",".join(p.stem for p in list_scenarios()))
    args = parser.parse_args()
    print(table(args.scenarios.split(","), args.seeds))


if __name__ == "__main__":
    main()
