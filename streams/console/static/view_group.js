// One allocation group: each ad set's money, belief and budget; how shares and beliefs moved;
// why the latest decision moved budget; and, for those allowed, the group's levers.

import {api, compactMoney, esc, majorText, money, pct, ratio, toMinor, when} from "./api.js";
import * as charts from "./charts.js";
import {bind, field, numberOrText} from "./forms.js";
import {bindLimits, limitsForm} from "./limits_form.js";
import {modePill, periodPicker} from "./view_overview.js";

const STAGES = ["lead", "appointment", "won", "lost", "unmapped"];

function interval(p) {
  return p.median === null || p.median === undefined ? "–"
    : `${ratio(p.median)} <span class="muted">(${ratio(p.p10)}–${ratio(p.p90)})</span>`;
}

function byStage(a, c) {
  return STAGES.filter(s => a.revenue_by_stage[s]).map(s => `${s} ${money(a.revenue_by_stage[s], c)}`).join("<br>") || "–";
}

function byKind(a, c) {
  return Object.entries(a.revenue_by_kind).map(([k, v]) => `${k} ${money(v, c)}`).join("<br>") || "–";
}

function levers(ctx, data, limits) {
  const c = data.currency, t = encodeURIComponent(ctx.tenant);
  let out = "";
  if (ctx.can("ADMIN")) {
    out += `<div class="grid">
      <form class="card" id="budget-form" data-testid="budget-form"><h2>Total daily budget</h2><div class="inline">
        ${field("total_daily_budget_minor", `Daily budget (${c})`, majorText(data.total_budget.minor ?? data.total_budget.budgeted_minor, c))}
        <input type="hidden" name="expected_version" value="${data.total_budget.version}"></div>
        <button type="submit">Save budget</button></form>
      ${limitsForm("campaign-limits", `Guardrail limits for campaign ${data.campaign_id}`, limits)}
      <div class="card"><h2>Kill switch</h2><p class="muted">Stops every automated change of campaign ${esc(data.campaign_id)}.</p>
        <button type="button" class="${data.paused ? "" : "danger"}" id="kill-switch">${data.paused ? "Resume automation" : "Pause automation"}</button></div>
    </div>`;
  }
  if (ctx.can("EDITOR")) {
    out += `<form class="card" id="mode-form" data-testid="mode-form"><h2>Automation for campaign ${esc(data.campaign_id)}</h2><div class="inline">
        ${field("mode", "Mode", data.automation.mode, {options: ["autopilot", "approval", "shadow"]})}
        ${field("approval_threshold_pct", "Approve changes above (%)", data.automation.approval_threshold_pct, {width: "6rem"})}
        ${field("approval_ttl_hours", "Expire after (hours)", data.automation.approval_ttl_hours, {width: "6rem"})}
        <input type="hidden" name="expected_version" value="${data.automation.scope === "campaign" ? data.automation.version : 0}"></div>
        <button type="submit">Save mode</button></form>`;
    out += `<form class="card" id="change-form" data-testid="change-form"><h2>Manual budget change</h2>
      <p class="muted">Goes through the guardrails like any other change.</p><div class="inline">
      ${field("entity_id", "Ad set", data.adsets[0]?.entity_id || "", {options: data.adsets.map(a => a.entity_id)})}
      ${field("daily_budget_minor", `New daily budget (${c})`, "")}
      ${field("reason", "Reason", "", {width: "16rem"})}</div><button type="submit">Request change</button></form>`;
  }
  return out;
}

export async function renderGroup(view, ctx, group) {
  const t = encodeURIComponent(ctx.tenant), g = encodeURIComponent(group);
  const days = ctx.query.get("days") || "30";
  const [data, recent] = await Promise.all([
    api("GET", `/v1/tenants/${t}/groups/${g}?days=${encodeURIComponent(days)}`),
    api("GET", `/v1/tenants/${t}/groups/${g}/decisions?limit=20`)]);
  const limits = ctx.can("ADMIN")
    ? await api("GET", `/v1/tenants/${t}/campaigns/${encodeURIComponent(data.campaign_id)}/limits`) : null;
  const latest = data.latest_decision
    ? await api("GET", `/v1/tenants/${t}/decisions/${encodeURIComponent(data.latest_decision.decision_id)}`) : null;
  const c = data.currency;
  view.innerHTML = `
    <h1>${esc(data.group_id)} ${modePill(data.automation.mode, data.paused)}
      ${data.awaiting_approval ? `<a class="pill awaiting_approval" href="#/t/${t}/approvals">${data.awaiting_approval} waiting</a>` : ""}</h1>
    ${periodPicker(ctx, `#/t/${t}/g/${g}`)}
    ${latest ? `<div class="card"><h2>Latest decision · ${when(latest.occurred_at)}</h2>
      <p class="sentence" data-testid="latest-sentence">${esc(latest.sentence)}</p>
      <a href="#/t/${t}/d/${encodeURIComponent(latest.decision_id)}">Explain this decision</a></div>` : ""}
    <div class="card"><h2>Ad sets</h2><table data-testid="adsets"><thead><tr>
      <th>Ad set</th><th class="num">Spend</th><th class="num">Pipeline revenue</th><th>By stage</th><th>By kind</th>
      <th class="num">ROAS</th><th class="num">Believed ROAS (80%)</th><th class="num">P(best)</th>
      <th class="num">Budget</th><th class="num">Share</th><th class="num">Floor / cap</th></tr></thead><tbody>
      ${data.adsets.map(a => `<tr data-entity="${esc(a.entity_id)}">
        <td>${esc(a.entity_id)}</td><td class="num" data-col="spend">${money(a.spend_minor, c)}</td>
        <td class="num" data-col="revenue">${money(a.revenue_minor, c)}</td><td>${byStage(a, c)}</td><td>${byKind(a, c)}</td>
        <td class="num">${ratio(a.roas)}</td><td class="num">${interval(a.posterior)}</td><td class="num">${pct(a.p_best)}</td>
        <td class="num" data-col="budget">${money(a.budget_minor, c)}</td><td class="num">${pct(a.budget_share)}</td>
        <td class="num">${ctx.can("ADMIN") ? `<form class="inline bounds" data-entity="${esc(a.entity_id)}">
            ${field("floor_minor", "floor", majorText(a.floor_minor, c), {width: "5rem"})}
            ${field("cap_minor", "cap", majorText(a.cap_minor, c), {width: "5rem"})}
            <input type="hidden" name="expected_version" value="${a.bounds_version}"><button type="submit" class="secondary">Save</button></form>`
          : `${money(a.floor_minor, c)} / ${money(a.cap_minor, c)}`}</td></tr>`).join("")}
    </tbody></table>
    <p class="muted">Total ${data.total_budget.minor === null ? "(the ad sets' reported budgets)" : "set by an operator"}:
      ${money(data.total_budget.minor ?? data.total_budget.budgeted_minor, c)} a day.</p></div>
    <div class="grid">
      <div class="card"><h2>Budget share over time</h2><div class="chart" id="shares"></div></div>
      <div class="card"><h2>Pipeline ROAS over time (80% interval)</h2><div class="chart" id="roas"></div></div>
      <div class="card"><h2>Daily spend vs pipeline revenue</h2><div class="chart" id="daily"></div></div>
      <div class="card"><h2>How deals were attributed</h2><div class="chart" id="mix"></div></div>
    </div>
    ${levers(ctx, data, limits)}
    <div class="card"><h2>Decisions</h2><table data-testid="decisions"><thead><tr><th>When</th><th>Why</th>
      <th class="num">Changes</th></tr></thead><tbody>${recent.decisions.map(d => `<tr>
      <td><a href="#/t/${t}/d/${encodeURIComponent(d.decision_id)}">${when(d.decided_at)}</a></td>
      <td>${esc(d.reason || "")}${d.paused ? ' <span class="pill paused">paused</span>' : ""}</td>
      <td class="num">${d.requests}</td></tr>`).join("")}</tbody></table></div>`;
  drawCharts(view, data);
  wire(view, ctx, data, limits);
}

function drawCharts(view, data) {
  const c = data.currency, s = data.series;
  const labels = s.decisions.map(d => d.at.slice(5, 10));
  const ids = data.adsets.map(a => a.entity_id);
  charts.stacked(view.querySelector("#shares"), labels, ids.map((e, i) => ({
    name: e, color: charts.color(i), values: s.decisions.map(d => d.budget_share[e] ?? 0)})));
  const top = [...data.adsets].sort((a, b) => (b.p_best ?? 0) - (a.p_best ?? 0)).slice(0, 6).map(a => a.entity_id);
  charts.lines(view.querySelector("#roas"), labels, top.map(e => ({
    name: e, color: charts.color(ids.indexOf(e)),
    values: s.decisions.map(d => d.roas[e] ? d.roas[e][1] : null),
    band: s.decisions.map(d => d.roas[e] ? [d.roas[e][0], d.roas[e][2]] : null)})));
  charts.lines(view.querySelector("#daily"), s.days.map(d => d.slice(5)), [
    {name: "spend", values: s.spend_minor, color: charts.color(1)},
    {name: "pipeline revenue", values: s.revenue_minor, color: charts.color(0)}], v => money(v, c),
    {axis: v => compactMoney(v, c)});
  const names = {url: "URL parameters", fingerprint: "fingerprint", probabilistic: "probabilistic"};
  charts.bars(view.querySelector("#mix"), Object.keys(names).filter(k => k in data.attribution_mix)
    .map(k => ({name: names[k], value: data.attribution_mix[k]})), v => `${v} deals`);
}

function version(values) {
  return values.expected_version === undefined ? undefined : Number(values.expected_version);
}

function wire(view, ctx, data, limits) {
  const t = encodeURIComponent(ctx.tenant), g = encodeURIComponent(data.group_id), c = data.currency;
  const campaign = encodeURIComponent(data.campaign_id);
  const budget = view.querySelector("#budget-form");
  if (budget) bind(budget, v => api("PUT", `/v1/tenants/${t}/groups/${g}/budget`, {
    total_daily_budget_minor: toMinor(v.total_daily_budget_minor, c), expected_version: version(v)}), ctx.rerender);
  const mode = view.querySelector("#mode-form");
  if (mode) bind(mode, v => api("PUT", `/v1/tenants/${t}/campaigns/${campaign}/automation`, {
    mode: v.mode, approval_threshold_pct: numberOrText(v.approval_threshold_pct),
    approval_ttl_hours: numberOrText(v.approval_ttl_hours), expected_version: version(v)}), ctx.rerender);
  const killSwitch = view.querySelector("#kill-switch");
  if (killSwitch) {
    killSwitch.addEventListener("click", async () => {
      await api("POST", `/v1/tenants/${t}/campaigns/${campaign}/${data.paused ? "resume" : "pause"}`, {reason: "from the console"});
      await ctx.rerender();
    });
  }
  const campaignLimits = view.querySelector("#campaign-limits");
  if (campaignLimits) bindLimits(campaignLimits, `/v1/tenants/${t}/campaigns/${campaign}/limits`, limits, ctx.rerender);
  const change = view.querySelector("#change-form");
  if (change) bind(change, v => api("POST", `/v1/tenants/${t}/budget-changes`, {
    campaign_id: data.campaign_id, group_id: data.group_id, entity_id: v.entity_id,
    daily_budget_minor: toMinor(v.daily_budget_minor, c) ?? "", reason: v.reason}), null,
    "Requested: the executor applies it within the guardrails.");
  for (const form of view.querySelectorAll("form.bounds")) {
    bind(form, v => api("PUT", `/v1/tenants/${t}/entities/${encodeURIComponent(form.dataset.entity)}/bounds`, {
      floor_minor: toMinor(v.floor_minor, c), cap_minor: toMinor(v.cap_minor, c), expected_version: version(v)}),
      ctx.rerender);
  }
}
