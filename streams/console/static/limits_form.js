// The guardrail-limits form, for a tenant (settings page) or one campaign (group page): it shows the
// limits in force and which layer set each, and saves only what the person changed as that scope's
// override, so every other limit keeps following the layer beneath.

import {api, esc} from "./api.js";
import {bind, field, numberOrText} from "./forms.js";

export const LIMIT_LABELS = {
  max_changes_per_entity_hour: "Changes per ad set per hour", max_actions_per_campaign_hour: "Actions per campaign per hour",
  change_window_hours: "Velocity window (hours)", max_change_fraction: "Largest move in the window (fraction)",
  policy: "Beyond a limit", platform_min_budget_minor: "Platform minimum (minor units)",
};

export function limitsForm(id, title, limits) {
  return `<form class="card" id="${esc(id)}"><h2>${esc(title)}</h2><div class="inline">
    ${Object.entries(LIMIT_LABELS).map(([k, label]) => field(k, label, limits.effective[k],
      k === "policy" ? {options: ["clamp", "block"]} : {width: "7rem", help: `from ${limits.sources[k] || "settings"}`})).join("")}
    <input type="hidden" name="expected_version" value="${limits.version}"></div><button type="submit">Save limits</button></form>`;
}

export function limitsTable(title, limits) {
  return `<div class="card"><h2>${esc(title)}</h2><table>${Object.entries(LIMIT_LABELS).map(([k, label]) =>
    `<tr><td>${esc(label)}</td><td class="num">${esc(limits.effective[k])}</td><td class="muted">${esc(limits.sources[k] || "")}</td></tr>`).join("")}</table></div>`;
}

export function bindLimits(form, url, limits, done) {
  bind(form, v => {
    const body = {expected_version: Number(v.expected_version)};
    for (const k of Object.keys(LIMIT_LABELS)) {
      const raw = String(v[k]).trim();
      if (raw === String(limits.effective[k])) continue;
      body[k] = k === "policy" ? raw : numberOrText(raw);
    }
    return api("PUT", url, body);
  }, done);
}
