"""The house's floors: the runtime stands on schemas and core alone, the lab above it (``lint-imports``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` over the packages in ``tree``, with the contracts of its ``pyproject.toml``."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=tree, env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def copy_of_the_house(tmp_path: Path) -> Path:
    for part in ("schemas", "streams"):
        shutil.copytree(ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_contracts_hold_for_the_code_as_it_is() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken." in result.stdout


@pytest.mark.parametrize("module, forbidden", [
    ("streams/sampler/decide.py", "streams.lab.sandbox.market"),
    ("streams/executor/guardrails.py", "streams.lab.backtest.engine"),
    ("streams/core/stage.py", "streams.executor.executor"),
    ("streams/ingest/clicks.py", "streams.revenue.valuation"),
    ("streams/revenue/ledger.py", "matplotlib.pyplot"),
])
def test_a_runtime_module_importing_the_lab_or_a_sibling_stage_breaks_them(
        copy_of_the_house: Path, module: str, forbidden: str) -> None:
    with (copy_of_the_house / module).open("a") as source:
        source.write(f"\nimport {forbidden}  # noqa: E402\n")
    result = lint_imports(copy_of_the_house)
    importer = module.removesuffix(".py").replace("/", ".")
    assert result.returncode != 0
    assert f"{importer} -> {forbidden.split('.')[0]}" in result.stdout
