// Is roasloop keeping up, and what has it told people? Consumer lag, dead letters, changes left
// executing, the last insights, the alert channels; then every alert, firing first, to acknowledge.

import {api, esc, when} from "./api.js";

function lagRows(lag) {
  return lag.length ? lag.map(l => `<tr><td>${esc(l.group_name)}</td><td class="num">${l.lag}</td>
    <td class="muted">${when(l.observed_at)}</td></tr>`).join("")
    : `<tr><td colspan="3" class="muted">No sample yet: the alerts stage measures lag every sweep.</td></tr>`;
}

export async function renderHealth(view, ctx) {
  const t = encodeURIComponent(ctx.tenant);
  const [health, alerts] = await Promise.all([api("GET", `/v1/tenants/${t}/health`),
                                             api("GET", `/v1/tenants/${t}/alerts?limit=100`)]);
  const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
  view.innerHTML = `<h1>Health and alerts</h1>
    <div class="grid">
      <div class="card"><h2>Consumer lag</h2><table data-testid="lag"><thead><tr><th>Consumer group</th>
        <th class="num">Records behind</th><th>Measured</th></tr></thead><tbody>${lagRows(health.consumer_lag)}</tbody></table></div>
      <div class="card"><h2>Dead letters</h2><table data-testid="dead-letters"><thead><tr><th>Topic</th>
        <th class="num">Records</th><th>Last</th></tr></thead><tbody>${health.dead_letters.map(d => `<tr>
        <td>${esc(d.origin_topic)}</td><td class="num">${d.dead_letters}</td><td class="muted">${when(d.last_at)}</td></tr>`).join("")
        || `<tr><td colspan="3" class="muted">None.</td></tr>`}</tbody></table></div>
      <div class="card"><h2>Budget changes and insights</h2>
        <p>Changes left executing: <b data-testid="executing">${health.executing.changes}</b>
          ${health.executing.oldest ? `<span class="muted">(oldest decided ${when(health.executing.oldest)})</span>` : ""}</p>
        <p>Last new insights from Meta: ${when(health.last_insights_at)}</p>
        <p>Alert channels: ${health.alert_channels.map(c => `${esc(c.kind)} ${c.consecutive_failures
          ? `<span class="pill failed">failing since ${when(c.failing_since)}</span>`
          : `<span class="pill completed">delivering</span>`}`).join(" · ") || '<span class="muted">none configured</span>'}</p>
        <p><a href="/v1/tenants/${t}/reports/daily/${yesterday}" target="_blank" rel="noopener">Yesterday's daily report</a></p></div>
    </div>
    <div class="card"><h2>Alerts</h2><div id="alert-notice"></div><table data-testid="alerts"><thead><tr><th>Status</th><th>Severity</th>
      <th>What</th><th>Raised</th><th>Acknowledged</th>${ctx.can("EDITOR") ? "<th></th>" : ""}</tr></thead><tbody>
      ${alerts.alerts.map(a => `<tr data-alert="${esc(a.alert_id)}"><td><span class="pill ${a.status === "firing" ? "failed" : "completed"}">${esc(a.status)}</span></td>
        <td>${esc(a.severity)}</td><td>${esc(a.title)}<br><span class="muted">${esc(a.detail)}</span></td>
        <td>${when(a.raised_at)}</td><td>${a.acknowledged_by ? `${esc(a.acknowledged_by)} · ${when(a.acknowledged_at)}` : ""}</td>
        ${ctx.can("EDITOR") ? `<td>${a.status === "firing" && !a.acknowledged_by ? '<button class="secondary" data-ack>Acknowledge</button>' : ""}</td>` : ""}
      </tr>`).join("") || `<tr><td colspan="6" class="muted">No alert yet.</td></tr>`}</tbody></table></div>`;
  for (const button of view.querySelectorAll("button[data-ack]")) {
    button.addEventListener("click", async () => {
      const id = button.closest("tr").dataset.alert;
      try {
        await api("POST", `/v1/tenants/${t}/alerts/${encodeURIComponent(id)}/acknowledge`);
        await ctx.rerender(null, "Acknowledged: no more reminders for this alert.");
      } catch (error) {
        view.querySelector("#alert-notice").innerHTML = `<div class="notice error" role="alert">${esc(error.message)}</div>`;
      }
    });
  }
}
