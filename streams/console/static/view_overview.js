// A tenant at a glance: money in and out, how deals were attributed, and every allocation group
// with its budget, automation mode and waiting changes.

import {api, compactMoney, esc, money, ratio, when} from "./api.js";
import * as charts from "./charts.js";

export function periodPicker(ctx, base) {
  const days = ctx.query.get("days") || "30";
  return `<div class="toolbar"><span class="muted">Period</span>${["7", "30", "90"].map(d =>
    `<a href="${base}?days=${d}"${d === days ? ' class="pill approval"' : ' class="pill"'}>${d} days</a>`).join("")}</div>`;
}

export function modePill(mode, paused) {
  return `<span class="pill ${esc(mode)}" data-testid="mode">${esc(mode)}</span>` +
         (paused ? ` <span class="pill paused">paused</span>` : "");
}

export async function renderOverview(view, ctx) {
  const days = ctx.query.get("days") || "30";
  const t = encodeURIComponent(ctx.tenant);
  const data = await api("GET", `/v1/tenants/${t}/overview?days=${encodeURIComponent(days)}`);
  const c = data.currency, totals = data.totals;
  view.innerHTML = `
    <h1>${esc(data.tenant_id)} ${modePill(data.automation.mode, data.paused)}</h1>
    ${periodPicker(ctx, `#/t/${t}`)}
    <div class="kpis">
      <div class="kpi"><div class="label">Spend</div><div class="value" data-testid="kpi-spend">${money(totals.spend_minor, c)}</div></div>
      <div class="kpi"><div class="label">Pipeline revenue</div><div class="value" data-testid="kpi-revenue">${money(totals.revenue_minor, c)}</div></div>
      <div class="kpi"><div class="label">Pipeline ROAS</div><div class="value">${ratio(totals.roas)}</div></div>
      <div class="kpi"><div class="label">Ad sets</div><div class="value">${totals.adsets}</div></div>
      <div class="kpi"><div class="label">Waiting for approval</div><div class="value">${totals.awaiting_approval}</div></div>
    </div>
    <div class="grid">
      <div class="card"><h2>Daily spend vs pipeline revenue</h2><div class="chart" id="daily"></div></div>
      <div class="card"><h2>How deals were attributed</h2><div class="chart" id="mix"></div></div>
    </div>
    <div class="card"><h2>Allocation groups</h2><table data-testid="groups"><thead><tr>
      <th>Group</th><th>Mode</th><th class="num">Ad sets</th><th class="num">Spend</th><th class="num">Pipeline revenue</th>
      <th class="num">ROAS</th><th class="num">Total budget</th><th class="num">Waiting</th><th>Last decision</th></tr></thead>
      <tbody>${data.groups.map(g => `<tr>
        <td><a href="#/t/${t}/g/${encodeURIComponent(g.group_id)}">${esc(g.group_id)}</a></td>
        <td>${modePill(g.mode, g.paused)}</td><td class="num">${g.adsets}</td>
        <td class="num">${money(g.spend_minor, c)}</td><td class="num">${money(g.revenue_minor, c)}</td>
        <td class="num">${ratio(g.roas)}</td>
        <td class="num">${g.total_budget_minor === null ? `<span class="muted">${money(g.budgeted_minor, c)} reported</span>` : money(g.total_budget_minor, c)}</td>
        <td class="num">${g.awaiting_approval || ""}</td>
        <td><span class="muted">${when(g.last_decision_at)}</span><br>${esc(g.last_reason || "")}</td></tr>`).join("")}
      </tbody></table></div>`;
  charts.lines(view.querySelector("#daily"), data.daily.map(d => d.day.slice(5)), [
    {name: "spend", values: data.daily.map(d => d.spend_minor), color: charts.color(1)},
    {name: "pipeline revenue", values: data.daily.map(d => d.revenue_minor), color: charts.color(0)},
  ], v => money(v, c), {axis: v => compactMoney(v, c)});
  const names = {url: "URL parameters", fingerprint: "fingerprint", probabilistic: "probabilistic", none: "unattributed"};
  charts.bars(view.querySelector("#mix"), Object.keys(names).filter(k => k in data.attribution_mix)
    .map(k => ({name: names[k], value: data.attribution_mix[k]})), v => `${v} deals`);
}
