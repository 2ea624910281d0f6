"""The backtest's answer, as numbers (``--json``) and as one self-contained HTML page.

Both come from :func:`summary`, so the page and the JSON can never disagree. The page inlines its
plots as SVG and its style, and links nothing: it opens offline, from an e-mail attachment too.
Sections (each an ``<section id=...>`` so tools and tests can find them): ``estimates``,
``budget-shares``, ``cumulative-revenue``, ``guardrails``.
"""

from __future__ import annotations

import html
import itertools
from datetime import datetime, timedelta
from typing import Any

from streams.lab.backtest.engine import ReplayResult
from streams.lab.backtest.evaluate import PolicyEstimate, logged_revenue_steps, windows
from streams.lab.backtest.plots import Series, cumulative, share_panels
from streams.lab.backtest.policies import LOGGED

SECTIONS = ("estimates", "budget-shares", "cumulative-revenue", "guardrails")
MAX_GROUPS_PLOTTED = 6


def summary(result: ReplayResult, estimates: list[PolicyEstimate], *, horizon: timedelta = timedelta(days=1),
            meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every number the report shows, JSON-ready."""
    logged_steps = logged_revenue_steps(result, horizon)
    per_window = {pe.policy: pe.direct_revenue for pe in estimates}
    starts = [w.start for w in windows(result, horizon) if sum(w.spend) > 0 or sum(w.revenue) != 0]
    return {
        "meta": {**(meta or {}), "events": result.events, "decisions": len(result.logged),
                 "currency": result.ledger.currency, "same_as_logged": result.same_as_logged(),
                 "incomplete_evidence": result.incomplete_evidence, "other_sampler_settings": result.other_settings,
                 "first_event_at": result.first_at.isoformat() if result.first_at else None,
                 "last_event_at": result.last_at.isoformat() if result.last_at else None},
        "policies": [pe.as_dict() for pe in estimates],
        "decisions": [
            {"policy": run.name, "decision_id": d.decision_id, "at": d.at.isoformat(), "tenant_id": d.group[0],
             "group_id": d.group[1], "entities": list(d.choice.entity_ids), "shares": list(d.choice.shares),
             "requested_minor": list(d.choice.budgets), "applied_minor": list(d.applied)}
            for run in result.runs for d in run.decisions
        ],
        "cumulative_revenue": {
            "logged_actual": [[t.isoformat(), v] for t, v in zip(
                [s for s, _ in logged_steps], itertools.accumulate(v for _, v in logged_steps), strict=True)],
            **{name: [[t.isoformat(), v] for t, v in zip(starts, itertools.accumulate(steps), strict=True)]
               for name, steps in per_window.items()},
        },
        "guardrail_limits": result.limits.describe(),
        "guardrail_interventions": {run.name: [i.as_dict() for i in run.interventions] for run in result.runs},
    }


def _share_figures(result: ReplayResult) -> list[str]:
    groups = sorted({d.group for d in result.logged})
    figures = []
    for group in groups[:MAX_GROUPS_PLOTTED]:
        panels: list[tuple[str, list[Series]]] = []
        logged = [d for d in result.logged if d.group == group]
        entities = sorted({e for d in logged for e in d.entity_ids})
        panels.append((LOGGED + " (decisions.v1)", [
            (e, [d.event.occurred_at for d in logged],
             [next((a.share for a in d.event.allocations if a.entity_id == e), 0.0) for d in logged])
            for e in entities]))
        for run in result.runs:
            if run.name == LOGGED:
                continue
            mine = [d for d in run.decisions if d.group == group]
            panels.append((run.name, [
                (e, [d.at for d in mine],
                 [dict(zip(d.choice.entity_ids, d.choice.shares, strict=True)).get(e, 0.0) for d in mine])
                for e in entities]))
        figures.append(share_panels(panels, f"budget share per entity - {group[0]} / {group[1]}"))
    return figures


def _table(rows: list[list[str]], head: list[str]) -> str:
    cells = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def _money(minor: float, currency: str | None) -> str:
    return f"{minor / 100:,.2f} {currency or ''}".strip()


def agreement(meta: dict[str, Any]) -> str:
    """``thompson 75/75, equal 3/75``: per policy, the decisions identical to the logged ones."""
    return ", ".join(f"{name} {n}/{meta['decisions']}" for name, n in meta["same_as_logged"].items())


def warnings(meta: dict[str, Any]) -> list[str]:
    """Why a replay may not be comparable with the live run, in words for a person."""
    out = []
    if n := meta["incomplete_evidence"]:
        out.append(f"{n} decision(s) were replayed without every fact the live sampler had seen (the range "
                   "starts after some of them, or records are missing): policies saw less than it did there")
    if n := meta["other_sampler_settings"]:
        out.append(f"{n} decision(s) were made with other sampler settings than this replay's: set the live "
                   "sampler's ROASLOOP_SAMPLER_* variables to replay with the same model")
    return out


def limits_used(limits: dict[str, Any]) -> str:
    """``settings defaults (window 6.0 h, ...) and 2 overrides, 1 entity bound from PostgreSQL``."""
    d = limits["defaults"]
    text = (f"settings defaults (change window {d['change_window_hours']} h, change fraction "
            f"{d['max_change_fraction']}, policy {d['policy']}, {d['max_changes_per_entity_hour']} changes per entity "
            f"and {d['max_actions_per_campaign_hour']} per campaign an hour, platform minimum "
            f"{d['platform_min_budget_minor']})")
    if limits["source"] == "settings":
        return text + "; no tenant, campaign or entity override"
    return (text + f" and {len(limits['overrides'])} tenant/campaign override(s), {len(limits['entity_bounds'])} "
            "entity floor/cap(s) from PostgreSQL, as they are now (overrides keep no history)")


def _overrides_table(limits: dict[str, Any]) -> str:
    rows = [[o["tenant_id"], o["campaign_id"] or "(tenant-wide)",
             ", ".join(f"{k} {v}" for k, v in o.items() if k not in ("tenant_id", "campaign_id"))]
            for o in limits["overrides"]]
    return _table(rows, ["tenant", "campaign", "overrides"]) if rows else ""


def _evidence_warning(meta: dict[str, Any]) -> str:
    return "".join(f'<p class="warning">{html.escape(w)}.</p>' for w in warnings(meta))


def render_html(data: dict[str, Any], result: ReplayResult) -> str:
    currency = data["meta"]["currency"]
    est_rows = []
    for p in data["policies"]:
        for e in p["estimates"]:
            interval = f"[{e['ci_low']:.3f}, {e['ci_high']:.3f}]"
            est_rows.append([p["policy"], e["estimator"], f"{e['value']:.3f}", interval,
                             _money(e["pipeline_revenue_minor"], currency), f"{e['ess']:.1f}", str(e["n"]),
                             str(e["clipped"]), "; ".join(e["warnings"])])
    curve_lines: list[Series] = []
    for name, points in data["cumulative_revenue"].items():
        curve_lines.append((name, [datetime.fromisoformat(t) for t, _ in points], [v / 100 for _, v in points]))
    guard_rows = [[name, i["at"], i["group_id"], i["entity_id"], _money(i["requested_minor"], currency),
                   "-" if i["applied_minor"] is None else _money(i["applied_minor"], currency), i["outcome"],
                   ", ".join(i["rules"])]
                  for name, items in data["guardrail_interventions"].items() for i in items]
    counts = ", ".join(f"{n}: {len(v)}" for n, v in data["guardrail_interventions"].items())
    meta = data["meta"]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>roasloop backtest</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}}
table{{border-collapse:collapse;font-size:13px}} td,th{{border:1px solid #ccc;padding:3px 6px;text-align:left}}
th{{background:#f3f3f3}} svg{{max-width:100%;height:auto}}</style>
</head><body>
<h1>roasloop backtest</h1>
<p>{meta['events']:,} events, {meta['decisions']:,} logged decisions, {html.escape(str(meta['first_event_at']))} to
{html.escape(str(meta['last_event_at']))}.
Decisions identical to the logged ones: {html.escape(agreement(meta))}.
Value = expected pipeline ROAS per unit of budget; revenue = value x spend.</p>
{_evidence_warning(meta)}
<section id="estimates"><h2>Off-policy estimates</h2>
{_table(est_rows, ["policy", "estimator", "value (ROAS)", "95% CI", "pipeline revenue", "ESS", "rounds",
                   "clipped", "warnings"])}</section>
<section id="budget-shares"><h2>Budget share over time per entity</h2>
{"".join(_share_figures(result)) or "<p>No decisions in range.</p>"}</section>
<section id="cumulative-revenue"><h2>Cumulative pipeline revenue</h2>
<p>Logged: revenue actually credited to each window's clicks. Policies: the window's spend times the policy's
shares of each entity's observed ROAS (direct estimate).</p>
{cumulative(curve_lines, "cumulative pipeline revenue", currency or "")}</section>
<section id="guardrails"><h2>Guardrail interventions the policy would have triggered</h2>
<p>Limits: {html.escape(limits_used(data["guardrail_limits"]))}.</p>
{_overrides_table(data["guardrail_limits"])}
<p>{html.escape(counts)}</p>
{_table(guard_rows, ["policy", "at", "group", "entity", "requested", "applied", "outcome", "rules"])}</section>
</body></html>
"""
