"""The stages roasloop knows, in pipeline order. A stage that has not landed yet is skipped."""

from __future__ import annotations

import importlib

from streams.core.stage import Stage

STAGE_NAMES = ("ingest", "attribution", "revenue", "sampler", "executor", "console", "alerts")


def load_stage(name: str) -> Stage:
    if name not in STAGE_NAMES:
        raise KeyError(f"unknown stage {name!r}; stages are: {', '.join(STAGE_NAMES)}")
    module = importlib.import_module(f"streams.{name}.app")
    stage = module.stage
    assert isinstance(stage, Stage)
    return stage


def available_stages() -> list[Stage]:
    """Every stage whose package exists (later issues plug theirs in)."""
    stages = []
    for name in STAGE_NAMES:
        try:
            stages.append(load_stage(name))
        except ModuleNotFoundError as exc:
            if exc.name not in (f"streams.{name}", f"streams.{name}.app"):
                raise
    return stages
