// Why the budget moved: one decision, in a sentence and in full - every ad set's belief and share,
// what was asked and what was applied, and every guardrail check with its limit and observed value.

import {api, esc, money, pct, ratio, when} from "./api.js";
import {bind, field} from "./forms.js";

// Checks whose limit and observed value are budgets (minor units); the others count changes.
const MONEY_CHECKS = new Set(["platform_minimum", "entity_floor", "entity_cap", "cumulative_change"]);

function checks(change, currency) {
  if (!change || !change.guardrails || !change.guardrails.length) return "";
  const show = (g, v) => v === null || v === undefined ? "" : MONEY_CHECKS.has(g.name) ? money(v, currency) : esc(v);
  return `<table class="checks"><tbody>${change.guardrails.map(g => `<tr>
    <td class="${g.passed ? "pass" : "fail"}">${g.passed ? "✓" : "✗"} ${esc(g.name)}</td>
    <td class="num">${g.limit === null || g.limit === undefined ? "" : `limit ${show(g, g.limit)}`}</td>
    <td class="num">${g.observed === null || g.observed === undefined ? "" : `observed ${show(g, g.observed)}`}</td>
    <td class="muted">${esc(g.detail)}</td></tr>`).join("")}</tbody></table>`;
}

export async function renderDecision(view, ctx, decisionId) {
  const t = encodeURIComponent(ctx.tenant);
  const d = await api("GET", `/v1/tenants/${t}/decisions/${encodeURIComponent(decisionId)}`);
  const c = d.total_budget.currency;
  const waiting = d.adsets.filter(a => a.change && a.change.status === "awaiting_approval");
  view.innerHTML = `
    <p><a href="#/t/${t}/g/${encodeURIComponent(d.group_id)}">← ${esc(d.group_id)}</a></p>
    <h1>Decision of ${when(d.occurred_at)}</h1>
    <p class="sentence" data-testid="sentence">${esc(d.sentence)}</p>
    <p class="muted">Policy ${esc(d.policy)} (seed ${esc(d.seed)}), total ${money(d.total_budget.amount_minor, c)} a day.
       ${esc(d.reason || "")}</p>
    ${d.adsets.filter(a => a.prior).map(a => `<p class="muted" data-testid="prior">${esc(a.prior.text)}</p>`).join("")}
    ${waiting.length && ctx.can("EDITOR") ? `<form class="card" id="decision-review"><h2>${waiting.length} change(s) wait for approval</h2>
      <div class="inline">${field("reason", "Reason", "", {width: "20rem"})}</div>
      <button type="submit" name="verdict" value="approve" data-testid="approve-all">Approve all</button>
      <button type="submit" name="verdict" value="reject" class="secondary" data-testid="reject-all">Reject all</button></form>` : ""}
    <div class="card"><table data-testid="explanation"><thead><tr><th>Ad set</th><th class="num">Believed ROAS (80%)</th>
      <th class="num">P(best)</th><th class="num">Before</th><th class="num">Asked</th><th class="num">Applied</th>
      <th>Outcome</th><th>Guardrails</th></tr></thead><tbody>
      ${d.adsets.map(a => `<tr data-entity="${esc(a.entity_id)}"><td>${esc(a.entity_id)}</td>
        <td class="num">${ratio(a.posterior.median)} <span class="muted">(${ratio(a.posterior.p10)}–${ratio(a.posterior.p90)})</span></td>
        <td class="num">${pct(a.share)}</td><td class="num">${money(a.previous_budget_minor, c)}</td>
        <td class="num">${money(a.requested_budget_minor, c)}</td>
        <td class="num">${a.change ? money(a.change.applied_budget_minor ?? a.change.target_budget_minor, c) : "–"}</td>
        <td>${a.change ? `<span class="pill ${esc(a.change.status)}" data-testid="outcome">${esc(a.change.status)}</span>
          ${a.change.reviewed_by ? `<br><span class="muted">by ${esc(a.change.reviewed_by)}</span>` : ""}` : '<span class="muted">no change</span>'}</td>
        <td>${checks(a.change, c)}</td></tr>`).join("")}
    </tbody></table></div>`;
  const form = view.querySelector("#decision-review");
  if (form) {
    let verdict = "approve";
    form.querySelectorAll("button[name=verdict]").forEach(b => b.addEventListener("click", () => { verdict = b.value; }));
    bind(form, v => api("POST", `/v1/tenants/${t}/decisions/${encodeURIComponent(decisionId)}/approval`,
      {verdict, reason: v.reason}), null, "Sent: the executor applies it within the guardrails.");
  }
}
