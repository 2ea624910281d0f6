"""Issue 9's table: ``thompson`` with the prior source on vs off, in simulation.

``python -m streams.sampler.priors.compare --scenarios new_ads --seeds 10`` builds the winner index
from the *other* shipped scenarios (:mod:`streams.sampler.priors.simulated`), then runs each
scenario and seed with priors off (``NullPriorSource``) and on, and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import statistics

from streams.sampler.priors.simulated import features_for, winners_from_history
from streams.sampler.priors.source import CtrAndWinnersPriorSource, NullPriorSource
from streams.sampler.simulate import run
from streams.sandbox.market_scenario import list_scenarios


def table(scenarios: list[str], seeds: int) -> str:
    lines = ["| scenario | history markets | winners | revenue off | revenue on | on / off (mean of seeds) "
             "| seeds on > off |", "|---|---|---|---|---|---|---|"]
    for name in scenarios:
        history = [p.stem for p in list_scenarios() if p.stem != name]
        index = winners_from_history(history)
        source = CtrAndWinnersPriorSource(None, index)
        off = [run(name, "thompson", s, prior_source=NullPriorSource(), features=features_for).pipeline_revenue_minor
               for s in range(seeds)]
        on = [run(name, "thompson", s, prior_source=source, features=features_for).pipeline_revenue_minor
              for s in range(seeds)]
        ratio = statistics.fmean(b / a for a, b in zip(off, on, strict=True))
        wins = sum(b > a for a, b in zip(off, on, strict=True))
        lines.append(f"| {name} | {len(history)} | {len(index)} | {statistics.fmean(off):,.0f} | "
                     f"{statistics.fmean(on):,.0f} | {ratio:.3f} | {wins}/{seeds} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--scenarios", default="new_ads,many_adsets")
    args = parser.parse_args()
    print(table(args.scenarios.split(","), args.seeds))


if __name__ == "__main__":
    main()
