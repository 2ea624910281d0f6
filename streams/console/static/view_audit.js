// The executor's audit trail: every budget change and its outcome, filterable, a page at a time.

import {api, esc, money, when} from "./api.js";
import {field} from "./forms.js";

const OUTCOMES = ["", "completed", "clamped", "blocked", "superseded", "failed", "dry_run", "shadow",
                  "awaiting_approval", "rejected", "expired", "executing"];

function rows(changes, t) {
  return changes.map(ch => `<tr><td>${when(ch.decided_at)}</td><td>${esc(ch.entity_id)}</td>
    <td><a href="#/t/${t}/g/${encodeURIComponent(ch.group_id)}">${esc(ch.group_id)}</a></td>
    <td><span class="pill ${esc(ch.status)}">${esc(ch.status)}</span></td>
    <td class="num">${money(ch.previous_budget_minor, ch.currency)}</td>
    <td class="num">${money(ch.requested_budget_minor, ch.currency)}</td>
    <td class="num">${money(ch.applied_budget_minor, ch.currency)}</td>
    <td>${esc(ch.source)}${ch.requested_by ? ` · ${esc(ch.requested_by)}` : ""}${ch.reviewed_by ? ` · reviewed by ${esc(ch.reviewed_by)}` : ""}</td>
    <td class="muted">${esc(ch.error || "")}${ch.decision_id ? ` <a href="#/t/${t}/d/${encodeURIComponent(ch.decision_id)}">decision</a>` : ""}</td></tr>`).join("");
}

export async function renderAudit(view, ctx) {
  const t = encodeURIComponent(ctx.tenant);
  const q = ctx.query;
  view.innerHTML = `<h1>Audit trail</h1>
    <form class="card inline" id="filters">
      ${field("outcome", "Outcome", q.get("outcome") || "", {options: OUTCOMES})}
      ${field("entity_id", "Ad set", q.get("entity_id") || "")}
      ${field("from", "From", q.get("from") || "", {type: "date"})}${field("to", "To", q.get("to") || "", {type: "date"})}
      <div class="field"><label>&nbsp;</label><button type="submit">Filter</button></div></form>
    <div id="trail-error"></div>
    <div class="card"><table data-testid="audit"><thead><tr><th>Decided</th><th>Ad set</th><th>Group</th><th>Outcome</th>
      <th class="num">Before</th><th class="num">Asked</th><th class="num">Applied</th><th>Source</th><th>Note</th></tr></thead>
      <tbody id="trail"></tbody></table><button id="more" class="secondary" hidden>More</button></div>`;
  view.querySelector("#filters").addEventListener("submit", event => {
    event.preventDefault();
    const values = new URLSearchParams([...new FormData(event.target).entries()].filter(([, v]) => v));
    location.hash = `#/t/${t}/audit?${values}`;
  });
  const filters = new URLSearchParams([...q.entries()].filter(([k, v]) => v && ["outcome", "entity_id", "from", "to"].includes(k)));
  if (!filters.has("from")) filters.set("days", "90");
  let before = null;
  const load = async () => {
    const page = new URLSearchParams(filters);
    if (before) page.set("before", before);
    try {
      const data = await api("GET", `/v1/tenants/${t}/changes?${page}`);
      view.querySelector("#trail").insertAdjacentHTML("beforeend", rows(data.changes, t));
      before = data.next_before;
      view.querySelector("#more").hidden = !before;
    } catch (error) {
      view.querySelector("#trail-error").innerHTML = `<div class="notice error" role="alert">${esc(error.message)}</div>`;
    }
  };
  view.querySelector("#more").addEventListener("click", load);
  await load();
}
