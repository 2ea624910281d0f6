"""The report: a self-contained HTML page with every section, and JSON with the same numbers."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from schemas.topics import topic_for
from streams.lab.backtest.records import ReplayRecord, to_ms
from streams.lab.backtest.report import SECTIONS
from streams.lab.backtest.run import Backtest, BacktestOptions, run_backtest
from tests.lab.backtest.synthetic import synthetic_run


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.svgs = 0
        self.external: list[str] = []
        self.tables = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "section":
            self.sections.append(values.get("id") or "")
        self.svgs += tag == "svg"
        self.tables += tag == "table"
        for key in ("src", "href"):
            if (link := values.get(key)) and not link.startswith(("#", "data:")):
                self.external.append(link)


def _records(seed: int = 5) -> list[ReplayRecord]:
    log = synthetic_run(seed, policy="bernoulli-ts")
    records = [ReplayRecord(topic_for(e).name, 0, i, to_ms(e.occurred_at), e) for i, e in enumerate(log)]
    return sorted(records, key=lambda r: r.order_key())


@pytest.fixture(scope="module")
async def backtest() -> Backtest:
    return await run_backtest(_records(), BacktestOptions(policies=("bernoulli-ts", "equal", "greedy"), n_boot=50))


def test_html_report_opens_offline_and_has_every_section(backtest: Backtest, tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    backtest.write_report(path)
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    assert page.sections == list(SECTIONS)
    assert page.external == []  # nothing to fetch: opens without a network
    assert page.svgs >= 2 and page.tables >= 2
    text = path.read_text(encoding="utf-8")
    for policy in ("logged", "bernoulli-ts", "equal", "greedy"):
        assert policy in text


def test_json_has_the_same_numbers_for_every_policy(backtest: Backtest) -> None:
    data = json.loads(json.dumps(backtest.data))
    names = [p["policy"] for p in data["policies"]]
    assert names == ["logged", "bernoulli-ts", "equal", "greedy"]
    for p in data["policies"]:
        assert [e["estimator"] for e in p["estimates"]] == ["ips", "snips", "dr"]
        for e in p["estimates"]:
            assert e["ci_low"] <= e["value"] <= e["ci_high"]
            assert e["ess"] > 0
    html = backtest.html()
    first = data["policies"][2]["estimates"][0]
    assert f"{first['value']:.3f}" in html
    assert set(data["cumulative_revenue"]) == {"logged_actual", *names}
    assert set(data["guardrail_interventions"]) == set(names)


def test_the_logged_policy_is_evaluated_on_policy(backtest: Backtest) -> None:
    logged = backtest.data["policies"][0]["estimates"]
    # target == logging distribution: every weight is 1, so ESS is the number of rounds and IPS == SNIPS
    assert logged[0]["ess"] == pytest.approx(logged[0]["n"])
    assert logged[0]["value"] == pytest.approx(logged[1]["value"])


def test_a_greedy_policy_triggers_guardrail_interventions(backtest: Backtest) -> None:
    greedy = backtest.data["guardrail_interventions"]["greedy"]
    assert greedy, "moving everything to one entity at once must hit the 20%-per-6-hours limit"
    assert all(i["outcome"] in ("clamped", "blocked") and i["rules"] for i in greedy)
    assert "cumulative_change" in {r for i in greedy for r in i["rules"]}


async def test_same_seed_gives_the_same_report_numbers() -> None:
    options = BacktestOptions(policies=("equal",), n_boot=30, seed=3)
    a = await run_backtest(_records(), options)
    b = await run_backtest(_records(), options)
    assert a.data["policies"] == b.data["policies"]


def test_the_report_says_how_many_logged_decisions_each_policy_reproduces(backtest: Backtest) -> None:
    meta = backtest.data["meta"]
    n = meta["decisions"]
    assert n > 0 and meta["same_as_logged"]["logged"] == n
    assert meta["same_as_logged"]["bernoulli-ts"] == n  # the logged policy, with the logged seeds
    assert meta["same_as_logged"]["equal"] < n
    assert f"bernoulli-ts {n}/{n}" in backtest.html()
    assert meta["incomplete_evidence"] == 0 and 'class="warning"' not in backtest.html()
