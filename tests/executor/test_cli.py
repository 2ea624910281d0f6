"""The executor's CLI: commands registered, view queries parameterised."""

from __future__ import annotations

import json

import pytest

from streams.cli import build_parser, main
from streams.core.settings import Settings
from streams.executor.cli import view_query


def test_executor_commands_are_registered_with_the_roasloop_cli() -> None:
    args = build_parser().parse_args(["executor", "guardrails", "--tenant", "acme", "--limit", "5"])
    assert (args.view, args.tenant, args.limit) == ("executor_guardrail_failures", "acme", 5)


def test_view_filters_are_parameters_never_spliced_into_sql() -> None:
    sql, params = view_query("executor_recent_changes", "acme'; DROP TABLE x; --", "c1", 10)
    assert sql == "SELECT * FROM executor_recent_changes WHERE tenant_id = $1 AND campaign_id = $2 LIMIT $3"
    assert params == ["acme'; DROP TABLE x; --", "c1", 10]
    with pytest.raises(ValueError):
        view_query("inbox", None, None, 1)


def _use_test_database(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", settings.database_url or "")
    monkeypatch.setenv("ROASLOOP_DATABASE_SCHEMA", settings.database_schema)


def test_a_campaign_window_set_from_the_cli_is_shown_with_its_layer(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _use_test_database(settings, monkeypatch)
    monkeypatch.setenv("ROASLOOP_EXECUTOR_MAX_CHANGE_FRACTION", "0.3")
    assert main(["executor", "limits", "set", "--tenant", "acme", "--policy", "block", "--actor", "ops"]) == 0
    assert main(["executor", "limits", "set", "--tenant", "acme", "--campaign", "c1",
                 "--change-window-hours", "24", "--expected-version", "0"]) == 0
    assert main(["executor", "limits", "set", "--tenant", "acme", "--entity", "as1", "--floor", "500"]) == 0
    capsys.readouterr()
    assert main(["executor", "limits", "show", "--tenant", "acme", "--campaign", "c1", "--entity", "as1",
                 "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["limits"] == {"max_changes_per_entity_hour": 4, "max_actions_per_campaign_hour": 15,
                               "max_change_fraction": 0.3, "change_window_hours": 24.0, "policy": "block",
                               "platform_min_budget_minor": 100, "floor_minor": 500, "cap_minor": None}
    assert shown["set_by"] == {"max_changes_per_entity_hour": "settings", "max_actions_per_campaign_hour": "settings",
                               "max_change_fraction": "settings", "change_window_hours": "campaign",
                               "policy": "tenant", "platform_min_budget_minor": "settings", "floor_minor": "entity",
                               "cap_minor": "none"}
    assert shown["versions"] == {"tenant": 1, "campaign": 1, "entity": 1}
    assert main(["executor", "limits", "set", "--tenant", "acme", "--campaign", "c1",
                 "--clear", "change-window-hours", "--max-change-fraction", "0.25"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[2].split() == ["max_change_fraction", "0.25", "campaign"]
    assert table[3].split() == ["change_window_hours", "6.0", "settings"]
    assert table[-1] == "versions: tenant v1, campaign v2"


@pytest.mark.parametrize(("argv", "message"), [
    (["--campaign", "c1", "--change-window-hours", "0"], "change_window_hours: input should be greater than 0"),
    (["--policy", "maybe"], "policy: "),
    (["--floor", "100"], "--floor/--cap need --entity"),
    (["--entity", "as1", "--policy", "block"], "--entity takes --floor/--cap"),
    (["--entity", "as1", "--floor", "100", "--policy", "block"], "one at a time"),
    (["--clear", "window"], "--clear window: not a limit"),
    (["--policy", "block", "--expected-version", "3"], "is at version 0, not 3"),
])
def test_a_refused_change_says_why_and_writes_nothing(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str],
    message: str,
) -> None:
    _use_test_database(settings, monkeypatch)
    assert main(["executor", "limits", "set", "--tenant", "acme", *argv]) == 2
    assert message in capsys.readouterr().err
    assert main(["executor", "limits", "show", "--tenant", "acme", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["versions"] == {}
