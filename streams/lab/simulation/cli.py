"""``roasloop simulate``: run an allocation policy against a sandbox market scenario."""

from __future__ import annotations

import argparse
import json
from typing import Any

from streams.lab.policies import POLICY_NAMES


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "simulate", help="run an allocation policy against a simulated market (offline, no broker)",
        description="Budgets move under the executor's guardrail settings (ROASLOOP_EXECUTOR_*, e.g. "
                    "ROASLOOP_EXECUTOR_MAX_CHANGE_FRACTION) and the sampler's (ROASLOOP_SAMPLER_*).",
    )
    parser.add_argument("--scenario", required=True, help="scenario JSON file, or a bundled scenario name")
    parser.add_argument("--policy", required=True, choices=POLICY_NAMES)
    parser.add_argument("--days", type=int, default=None, help="horizon (default: the scenario's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run_simulate)


def run_simulate(args: argparse.Namespace) -> int:
    from streams.lab.simulation.simulate import simulate
    from streams.sampler.settings import load_sampler_settings

    # the live stage's settings (ROASLOOP_SAMPLER_*, else the shared defaults): simulate what runs live
    result = simulate(args.scenario, args.policy, seed=args.seed, days=args.days,
                      model=load_sampler_settings().model())
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"scenario {result['scenario']}  policy {result['policy']}  seed {result['seed']}  days {result['days']}")
    print(f"pipeline revenue {result['pipeline_revenue_minor']:,}  spend {result['spend_minor']:,}  "
          f"pipeline ROAS {result['pipeline_roas']:.2f}")
    print(f"oracle pipeline revenue {result['oracle_pipeline_revenue_minor']:,}  regret {result['regret_minor']:,}  "
          f"share of oracle {result['share_of_oracle']}")
    for row in result["allocations"]:
        budgets = " ".join(f"{e}={b}" for e, b in row["budgets"].items())
        print(f"day {row['day']:>3} {row['group_id']}: {budgets}")
    return 0
