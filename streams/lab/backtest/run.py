"""One backtest end to end: a source of records, policies, estimates, and the report/JSON.

Kept apart from the CLI so tests and notebooks run exactly what ``roasloop replay`` runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from streams.core.controls.limits import LimitsBook
from streams.lab.backtest.engine import ReplayResult, replay_async
from streams.lab.backtest.evaluate import PolicyEstimate, evaluate
from streams.lab.backtest.policies import LOGGED, policy_by_name
from streams.lab.backtest.records import ReplayRecord
from streams.lab.backtest.report import render_html, summary


@dataclass(frozen=True)
class BacktestOptions:
    policies: Sequence[str] = ("thompson",)
    seed: int = 0
    units: int = 16
    clip: float | None = None
    n_boot: int = 300
    horizon: timedelta = timedelta(days=1)
    meta: dict[str, Any] = field(default_factory=dict)
    limits: LimitsBook | None = None
    """The guardrail limits; ``None``: the settings' defaults alone (``ROASLOOP_EXECUTOR_*``)."""


@dataclass(frozen=True)
class Backtest:
    result: ReplayResult
    estimates: list[PolicyEstimate]
    data: dict[str, Any]

    def html(self) -> str:
        return render_html(self.data, self.result)

    def write_report(self, path: Path) -> None:
        path.write_text(self.html(), encoding="utf-8")


async def _iterate(records: Iterable[ReplayRecord]) -> AsyncIterator[ReplayRecord]:
    for record in records:
        yield record


async def run_backtest(records: AsyncIterator[ReplayRecord] | Iterable[ReplayRecord],
                       options: BacktestOptions) -> Backtest:
    """Replay ``records`` through ``logged`` plus every requested policy and estimate each."""
    names = [LOGGED, *(p for p in options.policies if p != LOGGED)]
    policies = [policy_by_name(n) for n in names]
    source = records if isinstance(records, AsyncIterator) else _iterate(records)
    result = await replay_async(source, policies, limits=options.limits)
    estimates = evaluate(result, units=options.units, seed=options.seed, clip=options.clip, n_boot=options.n_boot,
                         horizon=options.horizon)
    data = summary(result, estimates, horizon=options.horizon, meta=options.meta)
    return Backtest(result, estimates, data)
