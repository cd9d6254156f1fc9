// Charts as SVG, drawn here: stacked bars over time, and a threshold gauge.
const NS = "http://www.w3.org/2000/svg";

export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) el.setAttribute(k, v);
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function niceMax(v) {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function short(n) {
  if (n >= 1e6) return `${(n / 1e6).toFixed(n % 1e6 ? 1 : 0)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(n % 1e3 ? 1 : 0)}k`;
  return String(n);
}

// rows: [{label, values: {seriesKey: number}}]; series: [{key, label, color}]
export function stackedBars(rows, series, { height = 220, width = 640, title = "" } = {}) {
  const pad = { l: 48, r: 12, t: 12, b: 36 };
  const innerW = width - pad.l - pad.r;
  const innerH = height - pad.t - pad.b;
  const totals = rows.map((r) => series.reduce((s, x) => s + (r.values[x.key] || 0), 0));
  const max = niceMax(Math.max(0, ...totals));
  const root = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    class: "chart",
    role: "img",
    "aria-label": title,
  });
  for (let i = 0; i <= 4; i += 1) {
    const y = pad.t + innerH - (innerH * i) / 4;
    root.append(
      svg("line", { x1: pad.l, x2: width - pad.r, y1: y, y2: y, class: "grid" }),
      svg("text", { x: pad.l - 6, y: y + 4, class: "axis", "text-anchor": "end" }, short((max * i) / 4)),
    );
  }
  const n = Math.max(rows.length, 1);
  const slot = innerW / n;
  const barW = Math.max(2, Math.min(48, slot * 0.7));
  rows.forEach((row, i) => {
    let y = pad.t + innerH;
    const x = pad.l + slot * i + (slot - barW) / 2;
    for (const s of series) {
      const v = row.values[s.key] || 0;
      if (!v) continue;
      const hgt = (innerH * v) / max;
      y -= hgt;
      root.append(
        svg(
          "rect",
          { x, y, width: barW, height: Math.max(hgt, 0.5), fill: s.color, class: "bar" },
          svg("title", {}, `${row.label} · ${s.label}: ${v.toLocaleString("en-US")}`),
        ),
      );
    }
    const every = Math.ceil(n / 12);
    if (i % every === 0) {
      root.append(
        svg("text", { x: x + barW / 2, y: height - pad.b + 16, class: "axis", "text-anchor": "middle" }, row.label),
      );
    }
  });
  if (!rows.length) {
    root.append(svg("text", { x: width / 2, y: height / 2, class: "axis", "text-anchor": "middle" }, "—"));
  }
  return root;
}

export function legend(series) {
  const box = document.createElement("div");
  box.className = "legend";
  for (const s of series) {
    const item = document.createElement("span");
    const dot = document.createElement("i");
    dot.style.background = s.color;
    item.append(dot, s.label);
    box.append(item);
  }
  return box;
}

// A log-scale gauge of value against thresholds [{gte, label, reached}].
export function thresholdGauge(value, steps, { width = 520, height = 62 } = {}) {
  const pad = { l: 8, r: 8 };
  const top = Math.max(10, ...steps.map((s) => s.gte * 10), value * 2);
  const scale = (v) => pad.l + ((width - pad.l - pad.r) * Math.log10(1 + v)) / Math.log10(1 + top);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "gauge" });
  root.append(svg("rect", { x: pad.l, y: 22, width: width - pad.l - pad.r, height: 12, rx: 3, class: "gauge-track" }));
  const reached = steps.filter((s) => s.reached).length;
  const cls = reached === 0 ? "ok" : reached < steps.length ? "warn" : "bad";
  root.append(
    svg("rect", { x: pad.l, y: 22, width: Math.max(2, scale(value) - pad.l), height: 12, rx: 3, class: `gauge-fill ${cls}` }),
  );
  steps.forEach((s, i) => {
    const x = scale(s.gte);
    const anchor = x < 90 ? "start" : x > width - 90 ? "end" : "middle";
    const below = i % 2 === 0;
    root.append(
      svg("line", { x1: x, x2: x, y1: below ? 18 : 14, y2: below ? 42 : 38, class: "gauge-tick" }),
      svg("text", { x: anchor === "start" ? x - 2 : anchor === "end" ? x + 2 : x, y: below ? 56 : 10, class: "axis", "text-anchor": anchor }, `${s.label} ≥ ${short(s.gte)}`),
    );
  });
  return root;
}
