"""The executor's CLI: commands registered, view queries parameterised."""

from __future__ import annotations

import pytest

from streams.cli import build_parser
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
