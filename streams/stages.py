"""The stages roasloop runs, in pipeline order, and how a process gets a fresh instance of one.

Stage modules are imported by name so ``roasloop run executor`` loads only the executor's code. Each
call builds a new instance (its settings are read when it subscribes): two runners in one process -
tests, ``roasloop dev`` started twice - never share a stage's state.
"""

from __future__ import annotations

import importlib

from streams.core.stage import Stage

STAGE_NAMES = ("ingest", "attribution", "revenue", "sampler", "executor", "console", "alerts", "launcher")


def load_stage(name: str) -> Stage:
    if name not in STAGE_NAMES:
        raise KeyError(f"unknown stage {name!r}; stages are: {', '.join(STAGE_NAMES)}")
    module = importlib.import_module(f"streams.{name}.app")
    stage = type(module.stage)()
    assert isinstance(stage, Stage)
    return stage


def all_stages() -> list[Stage]:
    return [load_stage(name) for name in STAGE_NAMES]
