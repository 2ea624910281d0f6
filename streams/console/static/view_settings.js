// A tenant's settings: automation mode and kill switch (ADMIN), guardrail limits (ADMIN), pipeline
// stage values (EDITOR). Every save carries the version it was shown, so a colleague's save in between
// is a conflict the page reports rather than a change silently undone.

import {api, esc, majorText, money, toMinor} from "./api.js";
import {bind, field, numberOrText} from "./forms.js";
import {modePill} from "./view_overview.js";

const LIMIT_LABELS = {
  max_changes_per_entity_hour: "Changes per ad set per hour", max_actions_per_campaign_hour: "Actions per campaign per hour",
  change_window_hours: "Velocity window (hours)", max_change_fraction: "Largest move in the window (fraction)",
  policy: "Beyond a limit", platform_min_budget_minor: "Platform minimum (minor units)",
};

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
    ${admin ? `<form class="card" id="limits"><h2>Guardrail limits</h2><div class="inline">
        ${Object.entries(LIMIT_LABELS).map(([k, label]) => field(k, label, limits.effective[k],
          k === "policy" ? {options: ["clamp", "block"]} : {width: "7rem", help: `from ${limits.sources[k] || "settings"}`})).join("")}
        <input type="hidden" name="expected_version" value="${limits.version}"></div><button type="submit">Save limits</button></form>`
      : readOnly("Guardrail limits", `<table>${Object.entries(LIMIT_LABELS).map(([k, label]) =>
          `<tr><td>${esc(label)}</td><td class="num">${esc(limits.effective[k])}</td></tr>`).join("")}</table>`)}
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
  const limitsForm = view.querySelector("#limits");
  if (limitsForm) {
    // only what the person changed becomes the tenant's override; the rest keeps following its layer
    bind(limitsForm, v => {
      const body = {expected_version: Number(v.expected_version)};
      for (const k of Object.keys(LIMIT_LABELS)) {
        const raw = String(v[k]).trim();
        if (raw === String(limits.effective[k])) continue;
        body[k] = k === "policy" ? raw : numberOrText(raw);
      }
      return api("PUT", `/v1/tenants/${t}/limits`, body);
    }, ctx.rerender);
  }
  const valuesForm = view.querySelector("#stage-values");
  if (valuesForm) {
    bind(valuesForm, v => api("PUT", `/v1/tenants/${t}/stage-values`, {
      expected_version: Number(v.expected_version),
      stage_values: Object.fromEntries(Object.keys(values.stage_values).map(s => [s, toMinor(v[s], c)]))}), ctx.rerender);
  }
}
