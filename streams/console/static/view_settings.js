// A tenant's settings: automation mode and kill switch (ADMIN), guardrail limits (ADMIN), pipeline
// stage values (EDITOR). Every save carries the version it was shown, so a colleague's save in between
// is a conflict the page reports rather than a change silently undone.

import {api, esc, majorText, money, toMinor} from "./api.js";
import {bind, field, numberOrText} from "./forms.js";
import {bindLimits, limitsForm, limitsTable} from "./limits_form.js";
import {modePill} from "./view_overview.js";

export async function renderSettings(view, ctx) {
  const t = encodeURIComponent(ctx.tenant);
  const [mode, limits, values, overview] = await Promise.all([
    api("GET", `/v1/tenants/${t}/automation`), api("GET", `/v1/tenants/${t}/limits`),
    api("GET", `/v1/tenants/${t}/stage-values`), api("GET", `/v1/tenants/${t}/overview?days=1`)]);
  const c = values.currency, admin = ctx.can("ADMIN"), editor = ctx.can("EDITOR");
  const readOnly = (title, body) => `<div class="card"><h2>${title}</h2>${body}</div>`;
  view.innerHTML = `<h1>Settings · ${esc(ctx.tenant)}</h1>
    ${editor ? `<form class="card" id="tenant-mode"><h2>Automation ${modePill(mode.mode, overview.paused)}</h2><div class="inline">
        ${field("mode", "Mode", mode.mode, {options: ["autopilot", "approval", "shadow"]})}
        ${field("approval_threshold_pct", "Approve changes above (%)", mode.approval_threshold_pct, {width: "6rem"})}
        ${field("approval_ttl_hours", "Expire after (hours)", mode.approval_ttl_hours, {width: "6rem"})}
        <input type="hidden" name="expected_version" value="${mode.version}"></div>
        <button type="submit">Save mode</button>
        ${admin ? `<button type="button" id="tenant-switch-kill" class="${overview.paused ? "" : "danger"}">${overview.paused ? "Resume all automation" : "Pause all automation"}</button>` : ""}</form>`
      : readOnly("Automation", `${modePill(mode.mode, overview.paused)}`)}
    ${admin ? limitsForm("limits", "Guardrail limits for the tenant", limits) : limitsTable("Guardrail limits", limits)}
    ${editor ? `<form class="card" id="stage-values"><h2>Pipeline stage values (${esc(c)})</h2><div class="inline">
        ${Object.entries(values.stage_values).map(([s, v]) => field(s, s, majorText(v, c))).join("")}
        <input type="hidden" name="expected_version" value="${values.version}"></div><button type="submit">Save stage values</button></form>`
      : readOnly("Pipeline stage values", Object.entries(values.stage_values).map(([s, v]) => `${esc(s)} ${money(v, c)}`).join(" · "))}`;
  const modeForm = view.querySelector("#tenant-mode");
  if (modeForm) {
    bind(modeForm, v => api("PUT", `/v1/tenants/${t}/automation`, {
      mode: v.mode, approval_threshold_pct: numberOrText(v.approval_threshold_pct),
      approval_ttl_hours: numberOrText(v.approval_ttl_hours),
      expected_version: Number(v.expected_version)}), ctx.rerender);
    view.querySelector("#tenant-switch-kill")?.addEventListener("click", async () => {
      await api("POST", `/v1/tenants/${t}/${overview.paused ? "resume" : "pause"}`, {reason: "from the console"});
      await ctx.rerender();
    });
  }
  const limits_ = view.querySelector("#limits");
  if (limits_) bindLimits(limits_, `/v1/tenants/${t}/limits`, limits, ctx.rerender);
  const valuesForm = view.querySelector("#stage-values");
  if (valuesForm) {
    bind(valuesForm, v => api("PUT", `/v1/tenants/${t}/stage-values`, {
      expected_version: Number(v.expected_version),
      stage_values: Object.fromEntries(Object.keys(values.stage_values).map(s => [s, toMinor(v[s], c)]))}), ctx.rerender);
  }
}
