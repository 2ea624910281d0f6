// Small SVG charts for the console: lines with interval bands, stacked shares, bars.
// Written here rather than pulled from a CDN: the console works with no network, and these four
// shapes are all it draws. Every mark carries a <title>, so hovering shows its exact value.

const PALETTE = ["#1f4e79", "#d1495b", "#2a9d8f", "#e9a23b", "#6a4c93", "#00798c", "#8d6a9f", "#c05746",
                 "#3d5a80", "#80b918", "#ff7b00", "#5c677d"];
const W = 640, H = 240, PAD = {l: 52, r: 12, t: 12, b: 28};

export function color(i) { return PALETTE[i % PALETTE.length]; }

function esc(s) {
  return String(s).replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
}

function scale(values, lo0 = null) {
  const finite = values.filter(v => v !== null && v !== undefined && Number.isFinite(v));
  let lo = lo0 !== null ? lo0 : Math.min(...finite, 0), hi = Math.max(...finite, lo + 1e-9);
  if (!finite.length) { lo = 0; hi = 1; }
  const y = v => PAD.t + (H - PAD.t - PAD.b) * (1 - (v - lo) / (hi - lo || 1));
  return {lo, hi, y};
}

function xAxis(labels) {
  const n = labels.length, span = W - PAD.l - PAD.r;
  const x = i => PAD.l + (n <= 1 ? span / 2 : span * i / (n - 1));
  const every = Math.max(1, Math.ceil(n / 6));
  const ticks = labels.map((l, i) => i % every === 0 || i === n - 1
    ? `<text x="${x(i)}" y="${H - 8}" text-anchor="middle">${esc(l)}</text>` : "").join("");
  return {x, svg: `<line class="axis" x1="${PAD.l}" y1="${H - PAD.b}" x2="${W - PAD.r}" y2="${H - PAD.b}"/>${ticks}`};
}

function yAxis(s, fmt) {
  let out = "";
  for (let k = 0; k <= 4; k++) {
    const v = s.lo + (s.hi - s.lo) * k / 4, y = s.y(v);
    out += `<line class="grid-line" x1="${PAD.l}" y1="${y}" x2="${W - PAD.r}" y2="${y}"/>` +
           `<text x="${PAD.l - 6}" y="${y + 4}" text-anchor="end">${esc(fmt(v))}</text>`;
  }
  return out;
}

function legend(series) {
  return `<div class="legend">${series.map(s => `<span><i style="background:${s.color}"></i>${esc(s.name)}</span>`).join("")}</div>`;
}

function path(points) {
  let d = "", pen = false;
  for (const [px, py] of points) {
    if (py === null) { pen = false; continue; }
    d += `${pen ? "L" : "M"}${px.toFixed(1)},${py.toFixed(1)} `;
    pen = true;
  }
  return d;
}

// series: [{name, values, color, band: [[low, high] | null, ...]}]
export function lines(el, labels, series, fmt = v => v.toFixed(2), {zero = true, axis = null} = {}) {
  const all = series.flatMap(s => [...s.values, ...(s.band || []).flatMap(b => b || [])]);
  const s = scale(all, zero ? 0 : null), xa = xAxis(labels);
  let body = "";
  for (const ser of series) {
    if (ser.band) {
      const top = [], bottom = [];
      ser.band.forEach((b, i) => { if (b && b[0] !== null && b[1] !== null) { top.push([xa.x(i), s.y(b[1])]); bottom.unshift([xa.x(i), s.y(b[0])]); } });
      if (top.length) body += `<path d="${path(top)} ${path(bottom).replace(/^M/, "L")} Z" fill="${ser.color}" opacity="0.14"/>`;
    }
    body += `<path d="${path(ser.values.map((v, i) => [xa.x(i), v === null || v === undefined ? null : s.y(v)]))}" fill="none" stroke="${ser.color}" stroke-width="2"/>`;
    ser.values.forEach((v, i) => {
      if (v === null || v === undefined) return;
      const band = ser.band && ser.band[i] ? ` (${fmt(ser.band[i][0])}–${fmt(ser.band[i][1])})` : "";
      body += `<circle cx="${xa.x(i)}" cy="${s.y(v)}" r="2.6" fill="${ser.color}"><title>${esc(ser.name)} ${esc(labels[i])}: ${esc(fmt(v))}${esc(band)}</title></circle>`;
    });
  }
  el.innerHTML = `<svg viewBox="0 0 ${W} ${H}" role="img">${yAxis(s, axis || fmt)}${xa.svg}${body}</svg>${legend(series)}`;
}

// series: [{name, values (fractions summing to 1 per x), color}]
export function stacked(el, labels, series) {
  const xa = xAxis(labels), s = scale([0, 1], 0);
  let base = labels.map(() => 0), body = "";
  for (const ser of series) {
    const top = ser.values.map((v, i) => base[i] + (v || 0));
    const upper = top.map((v, i) => [xa.x(i), s.y(v)]);
    const lower = base.map((v, i) => [xa.x(i), s.y(v)]).reverse();
    body += `<path d="${path(upper)} ${path(lower).replace(/^M/, "L")} Z" fill="${ser.color}" opacity="0.85"><title>${esc(ser.name)}</title></path>`;
    ser.values.forEach((v, i) => {
      body += `<rect x="${xa.x(i) - 2}" y="${s.y(top[i])}" width="4" height="${Math.max(0, s.y(base[i]) - s.y(top[i]))}" fill="transparent"><title>${esc(ser.name)} ${esc(labels[i])}: ${((v || 0) * 100).toFixed(1)}%</title></rect>`;
    });
    base = top;
  }
  el.innerHTML = `<svg viewBox="0 0 ${W} ${H}" role="img">${yAxis(s, v => `${Math.round(v * 100)}%`)}${xa.svg}${body}</svg>${legend(series)}`;
}

// items: [{name, value}] as horizontal bars
export function bars(el, items, fmt = v => String(v)) {
  const max = Math.max(1, ...items.map(i => i.value)), rowH = 26, h = Math.max(rowH, items.length * rowH + 8);
  const body = items.map((item, k) => {
    const w = (W - 200) * item.value / max, y = 4 + k * rowH;
    return `<text x="0" y="${y + 16}">${esc(item.name)}</text><rect x="140" y="${y + 4}" width="${Math.max(1, w)}" height="16" fill="${color(k)}"><title>${esc(item.name)}: ${esc(fmt(item.value))}</title></rect><text x="${146 + w}" y="${y + 16}">${esc(fmt(item.value))}</text>`;
  }).join("");
  el.innerHTML = items.length ? `<svg viewBox="0 0 ${W} ${h}" role="img">${body}</svg>` : `<p class="muted">No deals in this period.</p>`;
}
