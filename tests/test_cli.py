"""``roasloop``'s command registry: runtime commands always there, a broken install never hidden."""

from __future__ import annotations

import pytest

from streams import cli


def test_every_runtime_and_lab_command_is_registered() -> None:
    parser = cli.build_parser()
    day = ["--from", "2026-01-01T00:00:00Z", "--to", "2026-01-02T00:00:00Z"]
    for argv in (["migrate"], ["topics"], ["run", "sampler"], ["stage-values", "acme"], ["attribution-prune"],
                 ["executor", "changes"], ["ingest", "portal", "1", "acme"], ["dev", "--duration", "5"],
                 ["replay", "--from-file", "x.jsonl", *day], ["export", "--out", "x.jsonl", *day]):
        assert callable(parser.parse_args(argv).func), argv
    assert parser.epilog is None, "the lab is installed here: no note about where its commands went"


def test_a_missing_runtime_command_module_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "COMMAND_MODULES", (*cli.COMMAND_MODULES, "streams.sandbox.cli"))
    with pytest.raises(ModuleNotFoundError, match="streams.sandbox"):
        cli.build_parser()


def test_a_broken_lab_is_an_error_not_an_absent_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only a missing ``streams.lab`` means "no lab here"; anything missing inside it is a bug."""
    monkeypatch.setattr(cli, "LAB_COMMANDS", "streams.lab.no_such_cli")
    with pytest.raises(ModuleNotFoundError, match="streams.lab.no_such_cli"):
        cli.build_parser()
