// Overview: what is stored (by level and category, over time), scale, and the export volume
// against the transfer gate's thresholds (from the pack's transfer.yaml, via the API).
import { api } from "../api.js";
import { legend, stackedBars, thresholdGauge } from "../charts.js";
import { badge, clear, fmt, h, levelBadge, mechanismBadge, panel, refNode, table } from "../dom.js";
import { t } from "../i18n.js";

export const LEVEL_COLORS = {
  general: "#94a3b8",
  personal: "#3b82f6",
  sensitive_personal: "#f59e0b",
  important: "#dc2626",
};
const PALETTE = ["#2563eb", "#0891b2", "#16a34a", "#ca8a04", "#ea580c", "#db2777", "#7c3aed", "#475569", "#0d9488", "#65a30d"];

function kpi(label, value, testid) {
  return h("div", { class: "kpi", "data-testid": testid }, h("div", { class: "kpi-value" }, value), h("div", { class: "kpi-label" }, label));
}

function thresholds(data) {
  const th = data.thresholds;
  const rows = th.measures.map((m) => {
    const steps = m.tiers.map((s) => ({ ...s, label: t(`mech.short.${s.mechanism}`) }));
    const next = m.next
      ? t("overview.headroom", { n: fmt.int(m.next.headroom), mech: t(`mech.${m.next.mechanism}`) })
      : t("overview.top_tier");
    return h(
      "div",
      { class: "threshold", "data-testid": `threshold-${m.measure}` },
      h(
        "div",
        { class: "threshold-head" },
        h("strong", {}, t(`overview.measure.${m.measure}`)),
        h("span", { class: "threshold-value" }, fmt.int(m.value)),
        mechanismBadge(m.mechanism),
      ),
      thresholdGauge(m.value, steps),
      h("div", { class: "threshold-next" }, next),
      table(
        [
          { label: "overview.col.mechanism", render: (s) => t(`mech.${s.mechanism}`) },
          { label: "overview.col.from", num: true, render: (s) => fmt.int(s.gte) },
          { label: "overview.col.headroom", num: true, render: (s) => (s.reached ? badge("bad", t("overview.reached")) : fmt.int(s.headroom)) },
          { label: "common.ref", render: (s) => refNode(s.ref) },
        ],
        m.tiers,
      ),
    );
  });
  return panel(
    t("overview.thresholds", { year: th.year }),
    h(
      "p",
      { class: "muted" },
      t("overview.thresholds_lead"),
      " ",
      h("span", { class: "nowrap" }, t("overview.volume_mechanism"), " "),
      mechanismBadge(th.mechanism),
    ),
    h("div", { class: "thresholds" }, rows),
  );
}

function levelChart(data) {
  const series = data.levels.map((l) => ({ key: l, label: t(`level.${l}`), color: LEVEL_COLORS[l] }));
  const rows = data.timeline.by_level.map((d) => ({ label: d.date.slice(5), values: d }));
  return panel(t("overview.by_level"), legend(series), stackedBars(rows, series, { title: t("overview.by_level") }));
}

function categoryChart(data) {
  const totals = {};
  for (const d of data.timeline.by_category) {
    for (const [c, n] of Object.entries(d.rows)) {
      const root = c.split(".")[0];
      totals[root] = (totals[root] || 0) + n;
    }
  }
  const roots = Object.keys(totals).sort((a, b) => totals[b] - totals[a]);
  const series = roots.map((r, i) => ({ key: r, label: r, color: PALETTE[i % PALETTE.length] }));
  const rows = data.timeline.by_category.map((d) => {
    const values = {};
    for (const [c, n] of Object.entries(d.rows)) {
      const root = c.split(".")[0];
      values[root] = (values[root] || 0) + n;
    }
    return { label: d.date.slice(5), values };
  });
  return panel(t("overview.by_category"), legend(series), stackedBars(rows, series, { title: t("overview.by_category") }));
}

export async function render(root, ctx) {
  const data = await api("/v1/console/overview");
  clear(root);
  const datasets = data.scale.length;
  root.append(
    h(
      "div",
      { class: "kpis" },
      kpi(t("overview.records"), fmt.int(data.records), "kpi-records"),
      kpi(t("overview.individuals"), fmt.int(data.individuals), "kpi-individuals"),
      kpi(t("overview.vehicles"), fmt.int(data.vehicles), "kpi-vehicles"),
      kpi(t("overview.datasets"), fmt.int(datasets), "kpi-datasets"),
      kpi(t("overview.ledger"), fmt.int(data.ledger_size), "kpi-ledger"),
    ),
    h("div", { class: "grid-2" }, levelChart(data), categoryChart(data)),
    thresholds(data),
    h(
      "div",
      { class: "grid-2" },
      panel(
        t("overview.categories"),
        table(
          [
            { key: "category", label: "common.category", render: (r) => h("code", {}, r.category) },
            { label: "common.level", render: (r) => levelBadge(r.level) },
            { label: "common.records", num: true, render: (r) => fmt.int(r.records) },
            { key: "datasets", label: "common.datasets" },
          ],
          data.categories,
          { testid: "categories" },
        ),
      ),
      panel(
        t("overview.scale"),
        table(
          [
            { key: "dataset", label: "common.dataset", render: (r) => h("code", {}, r.dataset) },
            { label: "common.records", num: true, render: (r) => fmt.int(r.records) },
            { label: "overview.individuals", num: true, render: (r) => fmt.int(r.individuals) },
            { label: "overview.vehicles", num: true, render: (r) => fmt.int(r.vehicles) },
          ],
          data.scale,
        ),
        h("h3", {}, t("overview.stores")),
        table(
          [
            { key: "store", label: "common.store" },
            { key: "jurisdiction", label: "common.jurisdiction" },
            { label: "common.records", num: true, render: (r) => fmt.int(r.records) },
            { label: "common.bytes", num: true, render: (r) => fmt.bytes(r.bytes) },
          ],
          data.stores,
        ),
        h("h3", {}, t("overview.exports")),
        table(
          [
            { key: "recipient", label: "transfers.recipient" },
            { key: "country", label: "transfers.country" },
            { key: "purpose", label: "transfers.purpose" },
            { key: "approval", label: "transfers.approval" },
            { label: "overview.col.exports", num: true, render: (r) => fmt.int(r.exports) },
            { label: "overview.individuals", num: true, render: (r) => fmt.int(r.individuals) },
          ],
          data.exports,
        ),
      ),
    ),
    h("p", { class: "muted small" }, t("overview.as_of", { as_of: fmt.time(data.as_of), year: data.year })),
  );
}
