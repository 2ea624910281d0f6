// The console's one door to the server: the operator API under /v1, authenticated by the
// HttpOnly session cookie, with the session's CSRF token echoed on every write. A 401 sends the
// person to sign in; any other refusal comes back as an ApiError naming the field it concerns.

export class ApiError extends Error {
  constructor(status, message, field) { super(message); this.status = status; this.field = field || null; }
}

export function cookie(name) {
  const hit = document.cookie.split("; ").find(c => c.startsWith(name + "="));
  return hit ? decodeURIComponent(hit.slice(name.length + 1)) : "";
}

export async function api(method, path, body) {
  const init = {method, credentials: "same-origin", headers: {"Accept": "application/json"}};
  if (method !== "GET") {
    init.headers["X-CSRF-Token"] = cookie("roasloop_csrf");
    if (body !== undefined) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
  }
  const response = await fetch(path, init);
  const text = await response.text();
  let data = {};
  try { data = text ? JSON.parse(text) : {}; } catch { data = {error: text}; }
  if (response.status === 401 && !path.startsWith("/console/session")) {
    location.hash = "#/sign-in";
    throw new ApiError(401, data.error || "sign in again");
  }
  if (!response.ok) throw new ApiError(response.status, data.error || response.statusText, data.field);
  return data;
}

export const ROLES = ["VIEWER", "EDITOR", "ADMIN"];

export function can(me, role) {
  return me !== null && ROLES.indexOf(me.role) >= ROLES.indexOf(role);
}

const exponents = {};

export function exponent(currency) {
  if (!(currency in exponents)) {
    try {
      exponents[currency] = new Intl.NumberFormat("en", {style: "currency", currency}).resolvedOptions().maximumFractionDigits;
    } catch { exponents[currency] = 2; }
  }
  return exponents[currency];
}

export function money(minor, currency) {
  if (minor === null || minor === undefined) return "–";
  const value = minor / 10 ** exponent(currency);
  try {
    return new Intl.NumberFormat("en", {style: "currency", currency, maximumFractionDigits: exponent(currency)}).format(value);
  } catch { return `${value.toFixed(2)} ${currency}`; }
}

// A short money label for a chart's axis: $12.3K.
export function compactMoney(minor, currency) {
  const value = minor / 10 ** exponent(currency);
  try {
    return new Intl.NumberFormat("en", {style: "currency", currency, notation: "compact", maximumFractionDigits: 1}).format(value);
  } catch { return value.toFixed(0); }
}

// What a person typed in major units ("125.50"), as minor units; anything that is not a number is
// passed on as typed, so the API names what is wrong with it next to the field.
export function toMinor(text, currency) {
  const trimmed = String(text).trim();
  if (trimmed === "") return null;
  if (!/^-?\d+(\.\d+)?$/.test(trimmed)) return trimmed;
  return Math.round(Number(trimmed) * 10 ** exponent(currency));
}

export function majorText(minor, currency) {
  return minor === null || minor === undefined ? "" : String(minor / 10 ** exponent(currency));
}

export function ratio(value, digits = 2) {
  return value === null || value === undefined ? "–" : Number(value).toFixed(digits);
}

export function pct(value, digits = 1) {
  return value === null || value === undefined ? "–" : `${(value * 100).toFixed(digits)}%`;
}

export function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
}

export function when(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return d.toISOString().replace("T", " ").slice(0, 16) + " UTC";
}
