// The console shell: who is signed in, which tenant, and which page the address names.
// Pages live in view_*.js; each renders into <main> from the operator API. Edit controls appear
// only for roles that may use them (the API refuses everyone else whatever the page does).

import {api, can, esc} from "./api.js";
import {renderApprovals} from "./view_approvals.js";
import {renderAudit} from "./view_audit.js";
import {renderDecision} from "./view_decision.js";
import {renderGroup} from "./view_group.js";
import {renderHealth} from "./view_health.js";
import {renderOverview} from "./view_overview.js";
import {renderSettings} from "./view_settings.js";
import {renderSignIn} from "./view_signin.js";

const view = document.getElementById("view");
export const session = {me: null, config: null, tenants: []};

function parse(hash) {
  const [path, query = ""] = hash.replace(/^#/, "").split("?");
  return {parts: path.split("/").filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(query)};
}

async function whoAmI() {
  try {
    session.me = await api("GET", "/v1/me");
    session.tenants = (await api("GET", "/v1/tenants")).tenants;
  } catch {
    session.me = null;
  }
}

function shell(tenant, page) {
  const signedIn = session.me !== null;
  document.getElementById("nav").hidden = !signedIn || !tenant;
  document.getElementById("sign-out").hidden = !signedIn;
  document.getElementById("who").textContent = signedIn ? `${session.me.sub} · ${session.me.role}` : "";
  const switcher = document.getElementById("tenant-switch");
  switcher.hidden = !signedIn || session.tenants.length < 2;
  switcher.innerHTML = session.tenants.map(t => `<option${t === tenant ? " selected" : ""}>${esc(t)}</option>`).join("");
  for (const link of document.querySelectorAll("[data-nav]")) {
    const name = link.dataset.nav;
    link.href = name === "overview" ? `#/t/${encodeURIComponent(tenant)}` : `#/t/${encodeURIComponent(tenant)}/${name}`;
    link.classList.toggle("active", name === page);
  }
}

async function waitingBadge(tenant) {
  const badge = document.getElementById("waiting-badge");
  try {
    const n = (await api("GET", `/v1/tenants/${encodeURIComponent(tenant)}/approvals`)).waiting.length;
    badge.textContent = String(n);
    badge.hidden = n === 0;
  } catch { badge.hidden = true; }
}

export async function render(flash) {
  const {parts, query} = parse(location.hash || "#/");
  if (parts[0] === "sign-in" || session.me === null) {
    shell(null, null);
    await renderSignIn(view, session);
    return;
  }
  if (parts[0] !== "t" || !parts[1]) {
    const first = session.tenants[0];
    if (session.tenants.length === 1) { location.hash = `#/t/${encodeURIComponent(first)}`; return; }
    shell(null, null);
    view.innerHTML = `<h1>Tenants</h1><div class="card"><ul>${session.tenants.map(t =>
      `<li><a href="#/t/${encodeURIComponent(t)}">${esc(t)}</a></li>`).join("") || "<li class='muted'>No tenant yet.</li>"}</ul></div>`;
    return;
  }
  const tenant = parts[1], page = parts[2] || "overview";
  shell(tenant, page === "g" || page === "d" ? "overview" : page);
  waitingBadge(tenant);
  const ctx = {tenant, query, me: session.me, can: role => can(session.me, role), rerender: (_, text) => render(text)};
  view.innerHTML = `<p class="muted">Loading…</p>`;
  try {
    if (page === "g") await renderGroup(view, ctx, parts[3]);
    else if (page === "d") await renderDecision(view, ctx, parts[3]);
    else if (page === "approvals") await renderApprovals(view, ctx);
    else if (page === "audit") await renderAudit(view, ctx);
    else if (page === "settings") await renderSettings(view, ctx);
    else if (page === "health") await renderHealth(view, ctx);
    else await renderOverview(view, ctx);
    if (typeof flash === "string") {
      const note = document.createElement("div");
      note.className = "notice ok";
      note.setAttribute("role", "status");
      note.dataset.testid = "flash";
      note.textContent = flash;
      view.prepend(note);
    }
  } catch (error) {
    if (error.status === 401) return;
    view.innerHTML = `<div class="notice error" role="alert">${esc(error.message || error)}</div>`;
  }
}

document.getElementById("sign-out").addEventListener("click", async () => {
  await api("DELETE", "/console/session");
  session.me = null;
  location.hash = "#/sign-in";
  await render();
});
document.getElementById("tenant-switch").addEventListener("change", event => {
  location.hash = `#/t/${encodeURIComponent(event.target.value)}`;
});
window.addEventListener("hashchange", render);

export async function start() {
  session.config = await api("GET", "/console/config");
  await whoAmI();
  await render();
}

export async function signedIn() {
  await whoAmI();
  location.hash = "#/";
  await render();
}

start();
