// Changes waiting for a person, with the decision's reason: approve or reject each one.

import {api, esc, money, when} from "./api.js";

export async function renderApprovals(view, ctx) {
  const t = encodeURIComponent(ctx.tenant);
  const data = await api("GET", `/v1/tenants/${t}/approvals`);
  const canReview = ctx.can("EDITOR");
  view.innerHTML = `<h1>Waiting for approval</h1>
    <div id="approvals-notice"></div>
    ${data.waiting.length ? `<div class="card"><table data-testid="approvals"><thead><tr><th>Ad set</th><th>Group</th>
      <th class="num">Now</th><th class="num">Proposed</th><th>Why</th><th>Expires</th>${canReview ? "<th></th>" : ""}</tr></thead><tbody>
      ${data.waiting.map(w => `<tr data-change="${esc(w.change_id)}">
        <td>${esc(w.entity_id)}</td><td><a href="#/t/${t}/g/${encodeURIComponent(w.group_id)}">${esc(w.group_id)}</a></td>
        <td class="num">${money(w.previous_budget_minor, w.currency)}</td>
        <td class="num">${money(w.target_budget_minor, w.currency)}</td>
        <td>${esc(w.decision_reason || w.reason || "")}${w.decision_id ? `<br><a href="#/t/${t}/d/${encodeURIComponent(w.decision_id)}">explain</a>` : ""}</td>
        <td>${when(w.expires_at)}</td>
        ${canReview ? `<td><button data-verdict="approve">Approve</button> <button class="secondary" data-verdict="reject">Reject</button></td>` : ""}
      </tr>`).join("")}</tbody></table></div>`
    : `<div class="card muted" data-testid="no-approvals">Nothing waits for approval.</div>`}`;
  for (const button of view.querySelectorAll("button[data-verdict]")) {
    button.addEventListener("click", async () => {
      const row = button.closest("tr");
      const verdict = button.dataset.verdict;
      const notice = view.querySelector("#approvals-notice");
      try {
        await api("POST", `/v1/tenants/${t}/approvals/${encodeURIComponent(row.dataset.change)}`, {verdict, reason: ""});
        row.querySelectorAll("button").forEach(b => { b.disabled = true; });
        notice.innerHTML = `<div class="notice ok" role="status">${esc(verdict === "approve" ? "Approved" : "Rejected")}: the executor applies it now.</div>`;
      } catch (error) {
        // a change that stopped waiting (superseded, expired, reviewed by a colleague) cannot be reviewed again
        if (error.status === 409) row.querySelectorAll("button").forEach(b => { b.disabled = true; });
        notice.innerHTML = `<div class="notice error" role="alert">${esc(error.message)}${error.status === 409
          ? ` <button class="secondary" data-testid="refresh-approvals">Show what waits now</button>` : ""}</div>`;
        notice.querySelector("[data-testid=refresh-approvals]")?.addEventListener("click", () => renderApprovals(view, ctx));
      }
    });
  }
}
