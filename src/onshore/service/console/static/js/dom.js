// Small DOM helpers: h() builds elements, table() a dense data table, badges for statuses.
import { language, t } from "./i18n.js";

let instruments = {};

// The pack's instruments (titles in both languages), from the session.
export function setInstruments(map) {
  instruments = map || {};
}

// A legal reference in the UI's language: "促进和规范数据跨境流动规定 Art. 7" or the English text.
export function refNode(ref) {
  if (!ref) return "—";
  const known = instruments[ref.instrument];
  const title = language() === "zh" && known?.title_zh ? known.title_zh : known?.title;
  const text = title ? `${title}, ${ref.article}` : ref.text || `${ref.instrument} ${ref.article}`;
  return h("span", { class: "ref", title: [known?.number, ref.note].filter(Boolean).join(" · ") || null }, text);
}

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") el.className = value;
    else if (name === "text") el.textContent = value;
    else if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === "dataset") Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.append(child);
    else el.append(document.createTextNode(String(child)));
  }
}

// A code element that may wrap after each "/" (rule ids, paths) and nowhere else.
export function slashCode(text) {
  const parts = String(text ?? "").split("/");
  return h("code", { class: "wrap" }, parts.map((p, i) => (i < parts.length - 1 ? [p, "/", h("wbr")] : p)));
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

export const fmt = {
  int(n) {
    return n === null || n === undefined ? "—" : Number(n).toLocaleString("en-US");
  },
  bytes(n) {
    if (n === null || n === undefined) return "—";
    const units = ["B", "KiB", "MiB", "GiB"];
    let i = 0;
    let v = Number(n);
    while (v >= 1024 && i < units.length - 1) {
      v /= 1024;
      i += 1;
    }
    return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
  },
  time(iso) {
    if (!iso) return "—";
    return String(iso).replace("T", " ").replace(/\.\d+Z$/, "Z");
  },
  short(text, n = 16) {
    if (!text) return "—";
    const s = String(text);
    return s.length > n ? `${s.slice(0, n)}…` : s;
  },
};

// A dense table. columns: [{key, label (i18n key), render(row) -> node|string, num: bool}]
export function table(columns, rows, { empty = "common.none", rowClass, testid } = {}) {
  const head = h(
    "thead",
    {},
    h("tr", {}, columns.map((c) => h("th", { class: c.num ? "num" : null }, t(c.label)))),
  );
  const body = h("tbody");
  if (!rows.length) {
    body.append(
      h("tr", { class: "empty" }, h("td", { colspan: columns.length }, t(empty))),
    );
  }
  for (const row of rows) {
    const tr = h("tr", { class: rowClass ? rowClass(row) : null });
    for (const c of columns) {
      const value = c.render ? c.render(row) : row[c.key];
      const cell = h("td", { class: c.num ? "num" : null });
      if (value instanceof Node) cell.append(value);
      else cell.textContent = value === null || value === undefined || value === "" ? "—" : String(value);
      tr.append(cell);
    }
    body.append(tr);
  }
  return h("div", { class: "table-wrap" }, h("table", { class: "data", "data-testid": testid }, head, body));
}

export function badge(kind, text, extra = "") {
  return h("span", { class: `badge badge-${kind} ${extra}`.trim() }, text);
}

export function levelBadge(level) {
  if (!level) return "—";
  return badge(`level-${level}`, t(`level.${level}`));
}

export function mechanismBadge(mechanism) {
  const kind = {
    none_required: "ok",
    standard_contract_or_certification: "warn",
    security_assessment: "bad",
  }[mechanism] || "muted";
  return badge(kind, t(`mech.${mechanism}`));
}

export function panel(title, ...children) {
  return h("section", { class: "panel" }, title ? h("h2", {}, title) : null, ...children);
}

export function field(label, control, hint) {
  return h(
    "label",
    { class: "field" },
    h("span", { class: "field-label" }, label),
    control,
    hint ? h("span", { class: "field-hint" }, hint) : null,
  );
}

export function select(name, options, value) {
  return h(
    "select",
    { name, id: `f-${name}` },
    options.map(([v, label]) => h("option", { value: v, selected: v === value }, label)),
  );
}
