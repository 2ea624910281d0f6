"""The stop-loss judged against the sandbox market's truth (issue 22): never the best, soon the loser.

Thompson runs each scenario as ``roasloop simulate`` does; every day, each group's posterior is
put to the live stop-loss rule (:func:`streams.sampler.stoploss.propose`, the live settings, the
live seed derivation from the decision id), and each pause proposal is checked against the
market's hidden truth on that day (drift included): was the ad set truly the best of its group,
was it truly above break-even (a false alarm), and on which day was each truly losing ad set
first proposed. Proposals are not carried out (executing a pause is the executor's, not yet
wired), so the run's budgets are Thompson's alone.

``python -m streams.lab.simulation.stoploss --seeds 5 [--scenarios a,b] [--json]``
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from streams.lab.sandbox.market import Market
from streams.lab.sandbox.market_scenario import Scenario, list_scenarios
from streams.lab.simulation.simulate import run
from streams.sampler.decide import decision_id_for, seed_of
from streams.sampler.policy import Allocation, AllocationRequest
from streams.sampler.settings import SamplerSettings, load_sampler_settings
from streams.sampler.stoploss import propose


@dataclass
class StopLossRun:
    scenario: str
    seed: int
    days: int
    pause_proposals: int = 0
    best_proposed: int = 0
    """Pause proposals of the ad set that was truly the best of its group that day (must be 0)."""
    false_alarms: int = 0
    """Pause proposals of an ad set truly at or above break-even that day."""
    losers: dict[str, int | None] = field(default_factory=dict)
    """Each ad set truly below break-even on its launch day -> the first day it was proposed (None: never)."""


def evaluate(scenario: str | Path, seed: int, settings: SamplerSettings) -> StopLossRun:
    loaded = Scenario.load(scenario)
    truth_market = Market.from_scenario(loaded, seed)  # the truth at the scenario's starting budgets
    cfg = settings.stop_loss()
    result = StopLossRun(loaded.name, seed, loaded.days)
    first_day: dict[str, int] = {}

    def observe(day: int, request: AllocationRequest, allocation: Allocation) -> None:
        if allocation.posterior is None:
            return
        seed_now = seed_of(decision_id_for(request.state.tenant_id, request.state.group_id, request.now))
        proposals = propose(request.state, request.now, cfg, seed_now, allocation.posterior, None)
        if not proposals:
            return
        truth = {e: t.pipeline_roas for e, t in truth_market.truth(day).adsets.items() if e in request.entity_ids}
        best = max(truth, key=lambda e: truth[e])
        for p in proposals:
            result.pause_proposals += 1
            result.best_proposed += p.entity_id == best
            result.false_alarms += truth[p.entity_id] >= cfg.break_even_roas
            first_day.setdefault(p.entity_id, day)

    run(loaded, "thompson", seed, model=settings.model(), observe=observe)
    for adset_id in truth_market.truth(0).adsets:
        launch = truth_market.spec(adset_id).launch_day
        if truth_market.truth(launch).adsets[adset_id].pipeline_roas < cfg.break_even_roas:
            result.losers[adset_id] = first_day.get(adset_id)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--scenarios", default=",".join(p.stem for p in list_scenarios()))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    settings = load_sampler_settings()
    for name in args.scenarios.split(","):
        for seed in range(args.seeds):
            r = evaluate(name, seed, settings)
            if args.json:
                print(json.dumps(asdict(r)), flush=True)
            else:
                print(f"{r.scenario:18} seed {seed}: {r.pause_proposals:4} pause proposals, best proposed "
                      f"{r.best_proposed}, false alarms {r.false_alarms}, losers first proposed on day {r.losers}",
                      flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
