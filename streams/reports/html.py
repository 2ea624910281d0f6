"""The daily report as one self-contained HTML page: inline CSS and SVG, nothing fetched.

The same page is e-mailed, served by the console and written by ``roasloop report``. Mail clients
strip ``<style>`` blocks and scripts, so styles are inline and there is no JavaScript.
"""

from __future__ import annotations

from html import escape

from schemas.money import MINOR_UNIT_EXPONENT
from streams.reports.daily import MADE, STAGE_COLUMNS, DailyReport, Line
from streams.reports.svg import intervals, paired_bars

TD = 'style="padding:3px 8px;border-bottom:1px solid #eee;text-align:right"'
TL = 'style="padding:3px 8px;border-bottom:1px solid #eee;text-align:left"'
TH = 'style="padding:3px 8px;border-bottom:2px solid #ccc;text-align:right;font-weight:600"'


def _roas(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _posterior(line: Line) -> str:
    if line.posterior is None:
        return "–"
    mean, low, high = line.posterior
    return f"{mean:.2f} ({low:.2f}–{high:.2f})"


def _changes(line: Line) -> str:
    week = line.changes_week
    return f"{sum(week[s] for s in MADE)} / {week['blocked']} / {week['failed']}"


def _campaign_table(report: DailyReport, campaign: str, lines: list[Line]) -> str:
    head = ["ad set", "spend yday", "spend 7d", "revenue yday", "revenue 7d",
            *(f"{s} 7d" for s in STAGE_COLUMNS), "ROAS 7d", "posterior ROAS (90%)", "budget",
            "changes 7d made/blocked/failed"]
    rows = []
    for line in lines:
        cells = [report.money(sum(line.spend[-1:])), report.money(sum(line.spend)),
                 report.money(sum(line.revenue[-1:])), report.money(sum(line.revenue)),
                 *(report.money(line.by_stage[s]) for s in STAGE_COLUMNS), _roas(line.roas(7)), _posterior(line),
                 report.money(line.budget_minor) if line.budget_minor is not None else "–", _changes(line)]
        rows.append(f"<tr><td {TL}>{escape(line.entity_id)}</td>" + "".join(f"<td {TD}>{escape(c)}</td>" for c in cells)
                    + "</tr>")
    chart_rows = [(line.entity_id, *line.posterior) for line in lines if line.posterior is not None]
    chart = intervals(chart_rows, 1.0, f"Pipeline ROAS posterior, campaign {campaign}") if chart_rows else ""
    return (f"<h3 style=\"margin:18px 0 6px\">Campaign {escape(campaign)}</h3>"
            f"<table style=\"border-collapse:collapse;font-size:12px\"><tr><th {TL}>{head[0]}</th>"
            + "".join(f"<th {TH}>{escape(h)}</th>" for h in head[1:]) + "</tr>" + "".join(rows) + "</table>"
            + (f"<div style=\"margin-top:8px\">{chart}</div>" if chart else ""))


def render_report(report: DailyReport) -> str:
    spend_days = [sum(line.spend[i] for line in report.lines.values()) for i in range(len(report.days))]
    revenue_days = [sum(line.revenue[i] for line in report.lines.values()) for i in range(len(report.days))]
    scale = 10.0 ** -MINOR_UNIT_EXPONENT.get(report.currency, 2)
    chart = paired_bars([d.strftime("%a %d") for d in report.days], [v * scale for v in spend_days],
                        [v * scale for v in revenue_days], ("spend", "pipeline revenue"),
                        f"Spend vs pipeline revenue per day ({report.currency})")
    day, week = report.changes("day"), report.changes("week")
    spend, revenue = report.total("spend", 1), report.total("revenue", 1)
    kpis = [("spend yesterday", report.money(spend)), ("pipeline revenue yesterday", report.money(revenue)),
            ("pipeline ROAS yesterday", _roas(revenue / spend if spend else None)),
            ("spend 7 days", report.money(report.total("spend"))),
            ("pipeline revenue 7 days", report.money(report.total("revenue"))),
            ("budget changes yesterday", f"{sum(day[s] for s in MADE)} made, {day['blocked']} blocked, "
                                         f"{day['failed']} failed, {report.waiting} waiting"),
            ("budget changes 7 days", f"{sum(week[s] for s in MADE)} made, {week['blocked']} blocked, "
                                      f"{week['failed']} failed")]
    moves = "".join(
        f"<li><b>{escape(m.entity_id)}</b> ({escape(m.campaign_id)}): {escape(report.money(m.previous_minor))} → "
        f"{escape(report.money(m.applied_minor))} ({m.status}) - {escape(m.why)}</li>" for m in report.moves
    ) or "<li>No budget moved yesterday.</li>"
    alerts = "".join(f"<li>{a['occurred_at']:%Y-%m-%d %H:%M} UTC · {escape(a['severity'])} · {escape(a['title'])}</li>"
                     for a in report.alerts) or "<li>None.</li>"
    campaigns = "".join(_campaign_table(report, c, lines) for c, lines in report.campaigns().items()) or (
        "<p>No spend, revenue or decisions in these seven days.</p>")
    return (
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>roasloop daily report {escape(report.tenant_id)} {report.day.isoformat()}</title></head>"
        "<body style=\"font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#222;margin:16px\">"
        f"<h1 style=\"font-size:20px\">Daily report · {escape(report.tenant_id)} · {report.day.isoformat()}</h1>"
        f"<p style=\"color:#666\">{report.days[0].isoformat()} to {report.day.isoformat()}, days in "
        f"{escape(report.time_zone)}. Pipeline ROAS is credited pipeline value per unit of spend.</p>"
        "<table style=\"border-collapse:collapse;font-size:13px\">"
        + "".join(f"<tr><td {TL}>{escape(k)}</td><td {TD}><b>{escape(v)}</b></td></tr>" for k, v in kpis)
        + f"</table><div style=\"margin:12px 0\">{chart}</div>"
        f"<h2 style=\"font-size:16px\">Biggest moves yesterday, and why</h2><ul>{moves}</ul>"
        f"<h2 style=\"font-size:16px\">Alerts raised in these 7 days</h2><ul>{alerts}</ul>"
        f"<h2 style=\"font-size:16px\">Campaigns and ad sets</h2>{campaigns}"
        "<p style=\"color:#999;font-size:11px\">Changes: made / blocked by guardrails / failed. "
        "Posterior: the sampler's pipeline ROAS estimate with its 90% interval.</p></body></html>"
    )
