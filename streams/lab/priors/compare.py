"""Issue 9's table: ``thompson`` with the prior source on vs off, in simulation.

``python -m streams.lab.priors.compare --scenarios new_ads_creative --seeds 10`` runs each
scenario and seed with priors off (``NullPriorSource``) and on, same seed both ways, and prints a
Markdown table. Where the priors come from depends on the scenario:

- **with creatives** (:mod:`streams.lab.priors.account`): the same account's past - the
  scenario run on ``--history-runs`` other seeds, which draw other creatives under the same
  hidden taste - trains the CTR model and fills the winner index; the evaluated run's ad sets are
  described by their creatives only;
- **without creatives** (:mod:`streams.lab.priors.simulated`): winners of the *other*
  shipped scenarios, embedded by their first days of platform numbers.

``--control`` adds a row whose prior is the account's past mean ROAS for every ad set, at the
account prior's mean strength: what a strong but creative-blind prior earns. ``--ceiling`` adds a
diagnostic row whose prior is the evaluated run's *true* pipeline ROAS (it
peeks at ground truth, so it is no candidate: it bounds what any prior of that strength can earn).
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable, Sequence

from streams.lab.priors.account import (
    account_prior_source,
    creative_features,
    features_fn,
    history_seeds,
)
from streams.lab.priors.simulated import features_for, winners_from_history
from streams.lab.sandbox.market import Market
from streams.lab.sandbox.market_scenario import Scenario, list_scenarios
from streams.lab.simulation.simulate import FeaturesFn, run
from streams.priors.features import EntityFeatures
from streams.priors.source import CtrAndWinnersPriorSource, NullPriorSource, Prior, PriorSource

HEADER = ["| scenario | priors from | winners | CTR / CVR AUC (held-out days) | revenue off | revenue on "
          "| on / off (mean of seeds) | seeds on > off |", "|---|---|---|---|---|---|---|---|"]


class TruthPriorSource:
    """Diagnostic only: the evaluated market's true pipeline ROAS (on its last day) as the prior."""

    def __init__(self, market: Market, pseudo_spend_minor: int) -> None:
        truth = market.truth(day_index=market.scenario.days - 1)
        self.roas = {i: t.pipeline_roas for i, t in truth.adsets.items()}
        self.pseudo_spend_minor = pseudo_spend_minor

    def prior_for(self, entities: list[EntityFeatures]) -> list[Prior]:
        return [Prior(self.roas[e.entity_id], self.pseudo_spend_minor, "truth") if e.entity_id in self.roas
                else Prior(1.0, 0, "none") for e in entities]


class ConstantPriorSource:
    """Control: the account's average past ROAS for every ad set, at a given strength (no creatives)."""

    def __init__(self, mean_roas: float, pseudo_spend_minor: int) -> None:
        self.mean_roas, self.pseudo_spend_minor = mean_roas, pseudo_spend_minor

    def prior_for(self, entities: list[EntityFeatures]) -> list[Prior]:
        return [Prior(self.mean_roas, self.pseudo_spend_minor, "constant") for _ in entities]


def _row(name: str, label: str, winners: str, auc: str, seeds: Sequence[int],
         source_for: Callable[[int], PriorSource], features_of: Callable[[int], FeaturesFn]) -> str:
    off, on = [], []
    for s in seeds:
        feats = features_of(s)
        off.append(run(name, "thompson", s, prior_source=NullPriorSource(), features=feats).pipeline_revenue_minor)
        on.append(run(name, "thompson", s, prior_source=source_for(s), features=feats).pipeline_revenue_minor)
    ratio = statistics.fmean(b / a for a, b in zip(off, on, strict=True))
    wins = sum(b > a for a, b in zip(off, on, strict=True))
    return (f"| {name} | {label} | {winners} | {auc} | {statistics.fmean(off):,.0f} | {statistics.fmean(on):,.0f} "
            f"| {ratio:.3f} | {wins}/{len(seeds)} |")


def table(scenarios: list[str], seeds: int, first_seed: int = 0, history_runs: int = 16,
          ceiling: int = 0, control: bool = False) -> str:
    lines = list(HEADER)
    evaluated = list(range(first_seed, first_seed + seeds))
    for name in scenarios:
        if Scenario.load(name).creatives is not None:
            source, model, index, past = account_prior_source(name, history_seeds(history_runs))
            auc = f"{model.metrics['ctr']['auc']:.3f} / {model.metrics.get('cvr', {}).get('auc', float('nan')):.3f}"
            lines.append(_row(name, f"same account, {history_runs} past runs", str(len(index)), auc, evaluated,
                              lambda s, src=source: src,  # type: ignore[misc]
                              lambda s, n=name: features_fn(creative_features(n, s))))  # type: ignore[misc]
            if control:  # same strength, no creative information: is it the creatives or just a strong prior?
                mean = sum(r * past.spend[k] for k, r in past.roas.items()) / sum(past.spend.values())
                strength = round(statistics.fmean(p.pseudo_spend_minor
                                                  for p in source.prior_for(list(past.features.values()))))
                constant = ConstantPriorSource(mean, strength)
                lines.append(_row(name, f"control: past mean ROAS {mean:.2f} for all, {strength:,} pseudo-spend",
                                  "-", "-", evaluated, lambda s, c=constant: c,  # type: ignore[misc]
                                  lambda s: features_for))
        else:
            history = [p.stem for p in list_scenarios() if p.stem != name]
            other = winners_from_history(history)
            lines.append(_row(name, f"{len(history)} other markets", str(len(other)), "-", evaluated,
                              lambda s, o=other: CtrAndWinnersPriorSource(None, o),  # type: ignore[misc]
                              lambda s: features_for))
        if ceiling:
            lines.append(_row(name, f"true ROAS, {ceiling:,} pseudo-spend (ceiling, peeks)", "-", "-", evaluated,
                              lambda s, n=name: TruthPriorSource(Market.from_scenario(n, s), ceiling),  # type: ignore[misc]
                              lambda s: features_for))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--scenarios", default="new_ads_creative,new_ads,many_adsets")
    parser.add_argument("--history-runs", type=int, default=16, help="past runs of a creatives scenario")
    parser.add_argument("--ceiling", type=int, default=0, help="add a true-ROAS prior row of this strength")
    parser.add_argument("--control", action="store_true", help="add a constant-prior row of the same strength")
    args = parser.parse_args()
    print(table(args.scenarios.split(","), args.seeds, args.first_seed, args.history_runs, args.ceiling,
                args.control))


if __name__ == "__main__":
    main()
