"""The lab's commands need the lab extra, and say so instead of failing deep inside an import."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest

from streams.cli import build_parser, main
from streams.lab import cli as lab_cli
from streams.lab.dev.cli import run_dev_command

ROOT = Path(__file__).resolve().parents[2]


def test_the_guard_knows_exactly_the_lab_extras_packages() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    names = {req.split(">")[0].split("=")[0].split("[")[0].strip().replace("-", "_") for req in extras["lab"]}
    assert set(lab_cli.LAB_EXTRA_MODULES) == names


def test_dev_is_the_labs_command_with_its_options() -> None:
    args = build_parser().parse_args(["dev", "--duration", "5", "--json", "--no-simulate", "--export", "run.jsonl"])
    assert args.func.__wrapped__ is run_dev_command
    assert (args.duration, args.json, args.simulate, args.export) == (5.0, True, False, "run.jsonl")


@pytest.mark.parametrize("argv", [
    ["simulate", "--scenario", "basic", "--policy", "equal"],
    ["replay", "--from-file", "missing.jsonl", "--from", "2026-01-01T00:00:00Z", "--to", "2026-01-02T00:00:00Z"],
    ["train-ctr", "--no-register"],
])
def test_a_lab_command_without_a_lab_package_names_the_extra_and_exits_2(
        argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if not installed
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "", "the command itself must not have run"
    assert f"roasloop {argv[0]}: this is a lab command and needs the 'lab' extra (missing: matplotlib)" in captured.err
    assert "pip install 'roasloop[lab]'" in captured.err


def test_with_the_extra_installed_nothing_is_missing() -> None:
    assert lab_cli.missing_lab_modules() == []
