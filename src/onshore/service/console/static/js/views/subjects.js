// Subjects: look up a VIN (a read of personal data, on the ledger), export or delete it; the
// request queue with due dates in working days; the vehicle's consents.
import { api, download, request } from "../api.js";
import { badge, clear, field, fmt, h, levelBadge, panel, table } from "../dom.js";
import { t } from "../i18n.js";

const VIN = /^[A-HJ-NPR-Z0-9]{17}$/;

function cell(value) {
  if (value === null || value === undefined) return "—";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

function consentStatus(c) {
  const kind = { active: "ok", withdrawn: "muted", expired: "bad" }[c.status] || "warn";
  return badge(kind, t(`consent.status.${c.status}`));
}

async function showVehicle(ctx, vin, out, reloadQueue, notice = null) {
  clear(out).append(h("div", { class: "loading" }, t("common.loading")));
  const [held, consents] = await Promise.all([
    api(`/v1/console/subjects/${vin}`),
    api(`/v1/consents?vin=${vin}`),
  ]);
  const total = held.datasets.reduce((s, d) => s + d.rows, 0);
  const exportButton = h("button", { type: "button", class: "btn", id: "subject-export", "data-needs": "POST /v1/subjects/{vin}/export" }, t("subjects.export"));
  const deleteButton = h("button", { type: "button", class: "btn btn-danger", id: "subject-delete", "data-needs": "DELETE /v1/subjects/{vin}" }, t("subjects.delete"));
  const msg = h("div", {}, notice);
  exportButton.addEventListener("click", async () => {
    try {
      const saved = await download(`/v1/subjects/${vin}/export`, `${vin}.zip`, { method: "POST" });
      clear(msg).append(h("div", { class: "alert alert-ok" }, t("subjects.exported", { name: saved.name, size: fmt.bytes(saved.size) })));
    } catch (error) {
      clear(msg).append(ctx.errorBox(error));
    }
  });
  deleteButton.addEventListener("click", async () => {
    if (!window.confirm(t("subjects.confirm_delete", { vin }))) return;
    try {
      const response = await request(`/v1/subjects/${vin}`, { method: "DELETE" });
      const done = await response.json();
      const summary = h("div", { class: "alert alert-ok", "data-testid": "deleted" }, t("subjects.deleted", { rows: fmt.int(Object.values(done.rows_removed).reduce((a, b) => a + b, 0)), due: done.due_date, left: done.remaining }));
      summary.append(h("div", { class: "small" }, t("subjects.places_checked", { n: done.places.filter((p) => p.remaining !== null).length, unchecked: done.unchecked.join(", ") || "—" })));
      // PIPL Art. 47: the recipients of every transfer that carried the vehicle's data are told
      const notify = (done.recipients || []).map((r) => h("li", { "data-testid": "notify" }, `${r.recipient} (${r.country}) — ${r.at} — ${r.access_mode || ""} — ${t("subjects.approval")}: ${r.approval || "—"} — ${r.contact || ""} — ${r.package}`));
      summary.append(h("div", { class: "small" }, notify.length ? t("subjects.notify", { n: notify.length }) : t("subjects.notify_none")), h("ul", {}, ...notify));
      await reloadQueue();
      await showVehicle(ctx, vin, out, reloadQueue, summary); // what is held now: nothing
    } catch (error) {
      clear(msg).append(ctx.errorBox(error));
    }
  });
  clear(out).append(
    h(
      "div",
      { class: "subject-head" },
      h("div", {}, h("div", { class: "muted small" }, "VIN"), h("code", { class: "big" }, vin)),
      h("div", {}, h("div", { class: "muted small" }, t("subjects.pseudonym")), h("code", {}, fmt.short(held.subject, 28))),
      h("div", {}, h("div", { class: "muted small" }, t("common.records")), h("strong", { "data-testid": "subject-rows" }, fmt.int(total))),
      h("div", {}, h("div", { class: "muted small" }, t("subjects.ledger_entries")), h("strong", {}, fmt.int(held.ledger_entries))),
      h("div", { class: "actions" }, exportButton, deleteButton),
    ),
    msg,
    h("p", { class: "muted small" }, t("subjects.viewed")),
    h("h3", {}, t("subjects.held")),
    table(
      [
        { label: "common.dataset", render: (d) => h("code", {}, d.dataset) },
        { label: "common.rows", num: true, render: (d) => fmt.int(d.rows) },
        { label: "common.files", num: true, render: (d) => fmt.int(d.files) },
        { label: "common.level", render: (d) => h("span", {}, d.levels.map(levelBadge)) },
        { label: "common.store", render: (d) => d.stores.join(", ") },
        { label: "subjects.columns", render: (d) => d.columns.join(", ") },
      ],
      held.datasets,
      { empty: "subjects.nothing" },
    ),
    h(
      "div",
      {},
      held.datasets.map((d) =>
        h(
        "div",
        { class: "sample" },
        h("h3", {}, t("subjects.sample", { dataset: d.dataset, n: d.sample.length, total: fmt.int(d.rows) })),
        table(
          d.sample_columns.map((c) => ({ key: c, label: c, render: (r) => cell(r[c]) })),
          d.sample,
        ),
      ),
      ),
    ),
    h("h3", {}, t("subjects.consents")),
    table(
      [
        { key: "category", label: "common.category", render: (c) => h("code", {}, c.category) },
        { key: "purpose", label: "transfers.purpose" },
        { key: "person", label: "consent.person" },
        { key: "basis", label: "consent.basis" },
        { label: "consent.granted", render: (c) => fmt.time(c.granted_at) },
        { label: "consent.expires", render: (c) => fmt.time(c.expires_at) },
        { label: "common.status", render: consentStatus },
      ],
      consents.consents,
    ),
    h("h3", {}, t("subjects.requests")),
    table(
      [
        { key: "id", label: "common.id" },
        { key: "kind", label: "subjects.kind", render: (r) => t(`request.${r.kind}`) },
        { label: "subjects.received", render: (r) => fmt.time(r.received_at) },
        { key: "due_date", label: "subjects.due" },
        { label: "common.status", render: (r) => r.status },
      ],
      held.requests,
    ),
  );
  ctx.applyRoles(out);
}

function queuePanel(data) {
  const overdue = data.requests.filter((r) => r.overdue).length;
  const open = data.requests.filter((r) => !r.completed_at).length;
  return panel(
    t("subjects.queue"),
    h(
      "p",
      { class: "muted" },
      t("subjects.queue_lead", { days: data.due_working_days }),
      " ",
      badge(open ? "warn" : "ok", t("subjects.open", { n: open })),
      " ",
      badge(overdue ? "bad" : "ok", t("subjects.overdue", { n: overdue })),
    ),
    table(
      [
        { key: "id", label: "common.id", render: (r) => h("code", {}, r.id) },
        { label: "subjects.kind", render: (r) => t(`request.${r.kind}`) },
        { label: "subjects.pseudonym", render: (r) => h("code", { title: r.subject }, fmt.short(r.subject, 24)) },
        { label: "subjects.received", render: (r) => fmt.time(r.received_at) },
        { label: "subjects.due", render: (r) => h("span", {}, r.due_date || "—", r.due_confidence && r.due_confidence !== "C" ? h("span", { class: "muted" }, ` (${r.due_confidence})`) : null) },
        { label: "subjects.completed", render: (r) => fmt.time(r.completed_at) },
        { label: "common.status", render: (r) => (r.overdue ? badge("bad", t("subjects.is_overdue")) : badge(r.completed_at ? "ok" : "warn", r.status)) },
      ],
      data.requests,
      { testid: "queue", rowClass: (r) => (r.overdue ? "row-bad" : null) },
    ),
  );
}

export async function render(root, ctx) {
  clear(root);
  const out = h("div", { id: "subject-out" }, h("p", { class: "muted" }, t("subjects.lookup_lead")));
  const queue = h("div");
  const reloadQueue = async () => {
    clear(queue).append(queuePanel(await api("/v1/console/requests")));
  };
  const input = h("input", { name: "vin", id: "f-vin", maxlength: 17, class: "mono", placeholder: "L6T0CAU32MS684045", autocomplete: "off" });
  const form = h(
    "form",
    { class: "form-inline", id: "vin-form" },
    field("VIN", input),
    h("button", { type: "submit", class: "btn btn-primary", "data-needs": "GET /v1/console/subjects/{vin}" }, t("subjects.lookup")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const vin = input.value.trim().toUpperCase();
    if (!VIN.test(vin)) {
      clear(out).append(h("div", { class: "alert alert-bad" }, t("subjects.bad_vin")));
      return;
    }
    try {
      await showVehicle(ctx, vin, out, reloadQueue);
    } catch (error) {
      clear(out).append(ctx.errorBox(error));
    }
  });
  root.append(panel(t("subjects.lookup_title"), form, out), queue);
  if (ctx.can("GET /v1/console/requests")) await reloadQueue();
}
