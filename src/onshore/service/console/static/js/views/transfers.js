// Transfers: assess a request (a lake dataset or an uploaded file), see the decision with its
// reasons and legal references, run it when allowed; the approvals registry.
import { api, ApiError, request } from "../api.js";
import { badge, clear, field, fmt, h, levelBadge, mechanismBadge, panel, refNode, select, slashCode, table } from "../dom.js";
import { t } from "../i18n.js";

const UPLOAD_TYPES = { parquet: "application/vnd.apache.parquet", csv: "text/csv", jsonl: "application/x-ndjson", ndjson: "application/x-ndjson" };

function formValues(form) {
  const data = new FormData(form);
  return {
    source: data.get("source"),
    dataset: data.get("dataset"),
    file: form.querySelector("#f-file").files[0] || null,
    recipient: (data.get("recipient") || "").trim(),
    country: (data.get("country") || "").trim().toUpperCase(),
    purpose: (data.get("purpose") || "").trim(),
    access_mode: data.get("access_mode"),
    exemption: data.get("exemption") || null,
    profile: data.get("profile") || null,
    impact_assessment: (data.get("impact_assessment") || "").trim() || null,
    outbound_basis: data.get("outbound_basis") || "separate_consent",
    outbound_basis_note: (data.get("outbound_basis_note") || "").trim(),
  };
}

async function submit(values, run) {
  if (values.source === "upload") {
    if (!values.file) throw new ApiError(422, { title: t("transfers.no_file"), detail: t("transfers.no_file_hint") });
    const ext = values.file.name.split(".").pop().toLowerCase();
    const query = new URLSearchParams({ recipient: values.recipient, country: values.country, purpose: values.purpose, name: values.file.name });
    if (values.exemption) query.set("exemption", values.exemption);
    if (values.profile) query.set("profile", values.profile);
    if (values.impact_assessment) query.set("impact_assessment", values.impact_assessment);
    query.set("outbound_basis", values.outbound_basis);
    if (values.outbound_basis_note) query.set("outbound_basis_note", values.outbound_basis_note);
    const response = await request(`/v1/console/transfers/${run ? "run" : "assess"}/upload?${query}`, {
      method: "POST",
      body: values.file,
      headers: { "Content-Type": UPLOAD_TYPES[ext] || "application/octet-stream" },
    });
    return response.json();
  }
  const body = {
    dataset: values.dataset,
    recipient: { name: values.recipient, country: values.country },
    purpose: values.purpose,
    access_mode: values.access_mode,
    exemption: values.exemption,
    profile: values.profile,
    impact_assessment: values.impact_assessment,
    outbound_basis: values.outbound_basis,
    outbound_basis_note: values.outbound_basis_note,
  };
  return api(`/v1/transfers/${run ? "run" : "assess"}`, { method: "POST", json: body });
}

function decisionView(d, ran) {
  const status = d.allowed ? badge("ok", t("transfers.allowed")) : badge("bad", t("transfers.refused"));
  return h(
    "div",
    { class: `decision ${d.allowed ? "is-ok" : "is-bad"}`, "data-testid": "decision", "data-allowed": String(d.allowed) },
    h(
      "div",
      { class: "decision-head" },
      h("div", {}, h("div", { class: "muted small" }, t("transfers.mechanism")), mechanismBadge(d.mechanism)),
      h("div", {}, h("div", { class: "muted small" }, t("transfers.decision")), status),
      h("div", {}, h("div", { class: "muted small" }, t("transfers.dataset_level")), levelBadge(d.dataset_level)),
      h("div", {}, h("div", { class: "muted small" }, t("transfers.individuals")), h("strong", {}, fmt.int(d.counts.individuals))),
      h("div", {}, h("div", { class: "muted small" }, t("transfers.sensitive_individuals")), h("strong", {}, fmt.int(d.counts.sensitive_individuals))),
      h("div", {}, h("div", { class: "muted small" }, t("transfers.cumulative")), h("strong", {}, `${fmt.int(d.counts.cumulative_non_sensitive)} / ${fmt.int(d.counts.cumulative_sensitive)}`)),
    ),
    d.missing.length
      ? h("div", { class: "alert alert-bad" }, h("strong", {}, t("transfers.missing")), h("ul", {}, d.missing.map((m) => h("li", {}, m))))
      : null,
    ran && d.package
      ? h(
          "div",
          { class: "alert alert-ok", "data-testid": "package" },
          h("strong", {}, t("transfers.done")),
          h("div", {}, `${t("transfers.package")}: `, h("code", {}, d.package)),
          h("div", {}, `${t("transfers.ledger_index")}: `, h("code", {}, String(d.ledger_index))),
        )
      : null,
    h("h3", {}, t("transfers.reasons")),
    table(
      [
        { label: "transfers.rule", render: (r) => slashCode(r.rule_id) },
        { key: "text", label: "transfers.reason" },
        { label: "common.ref", render: (r) => refNode(r.ref) },
      ],
      d.reasons,
      { testid: "reasons" },
    ),
    h(
      "div",
      { class: "facts" },
      h("span", {}, `${t("common.categories")}: `, d.categories.map((c) => h("code", { class: "chip" }, c))),
      d.approval_used ? h("span", {}, `${t("transfers.approval")}: `, h("code", {}, d.approval_used)) : null,
      h("span", { class: "muted" }, `${t("transfers.id")}: ${d.transfer}`),
    ),
  );
}

function requestForm(ctx, datasets, out) {
  const s = ctx.session;
  const exemptions = [["", t("transfers.no_exemption")], ...Object.keys(s.exemptions).map((e) => [e, `${t(`exemption.${e}`)} (${e})`])];
  const profiles = [["", t("transfers.no_profile")], ...s.profiles.map((p) => [p, p])];
  const runButton = h("button", { type: "button", class: "btn btn-danger", id: "run", disabled: true, "data-needs": "POST /v1/transfers/run|POST /v1/console/transfers/run/upload" }, t("transfers.run"));
  const assessButton = h("button", { type: "submit", class: "btn btn-primary", id: "assess", "data-needs": "POST /v1/transfers/assess" }, t("transfers.assess"));
  const datasetSelect = select("dataset", datasets.map((d) => [d.dataset, `${d.dataset} · ${fmt.int(d.rows)} ${t("common.rows")} · ${d.levels.map((l) => t(`level.${l}`)).join(", ")}`]));
  const fileInput = h("input", { type: "file", id: "f-file", name: "file", accept: ".parquet,.csv,.jsonl,.ndjson" });
  const sourceRow = h(
    "div",
    { class: "radio-row" },
    h("label", {}, h("input", { type: "radio", name: "source", value: "lake", checked: true }), t("transfers.source_lake")),
    h("label", {}, h("input", { type: "radio", name: "source", value: "upload", id: "f-source-upload" }), t("transfers.source_upload")),
  );
  let assessed = null;
  const form = h(
    "form",
    { class: "form-grid", id: "transfer-form" },
    h("div", { class: "span-2" }, sourceRow),
    field(t("transfers.dataset"), datasetSelect),
    field(t("transfers.file"), fileInput, t("transfers.file_hint")),
    field(t("transfers.recipient"), h("input", { name: "recipient", id: "f-recipient", required: true, value: "Acme GmbH" })),
    field(t("transfers.country"), h("input", { name: "country", id: "f-country", required: true, maxlength: 2, value: "DE", class: "short" }), t("transfers.country_hint")),
    field(t("transfers.purpose"), h("input", { name: "purpose", id: "f-purpose", required: true, list: "purposes", value: "r_and_d" })),
    h("datalist", { id: "purposes" }, s.purposes.map((p) => h("option", { value: p }))),
    field(t("transfers.access_mode"), select("access_mode", [["push", t("transfers.push")], ["remote_access", t("transfers.remote_access")]], "push")),
    field(t("transfers.exemption"), select("exemption", exemptions, "")),
    field(t("transfers.profile"), select("profile", profiles, ""), t("transfers.profile_hint")),
    field(t("transfers.impact_assessment"), h("input", { name: "impact_assessment", id: "f-pia", maxlength: 200 }), t("transfers.impact_assessment_hint")),
    field(t("transfers.outbound_basis"), select("outbound_basis", ["separate_consent", "contract", "hr_management", "legal_obligation", "emergency"].map((b) => [b, t(`transfers.basis.${b}`)]), "separate_consent"), t("transfers.outbound_basis_hint")),
    field(t("transfers.outbound_basis_note"), h("input", { name: "outbound_basis_note", id: "f-basis-note", maxlength: 2000 }), t("transfers.outbound_basis_note_hint")),
    h("div", { class: "actions span-2" }, assessButton, runButton, h("span", { class: "muted small", id: "run-hint" }, t("transfers.run_hint"))),
  );
  const sync = () => {
    const upload = form.querySelector("#f-source-upload").checked;
    datasetSelect.disabled = upload;
    fileInput.disabled = !upload;
  };
  form.addEventListener("change", () => {
    sync();
    assessed = null;
    runButton.disabled = true;
  });
  sync();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = formValues(form);
    clear(out).append(h("div", { class: "loading" }, t("transfers.assessing")));
    runButton.disabled = true;
    try {
      const d = await submit(values, false);
      assessed = d.allowed ? values : null;
      clear(out).append(decisionView(d, false));
      runButton.disabled = !(d.allowed && ctx.can(values.source === "upload" ? "POST /v1/console/transfers/run/upload" : "POST /v1/transfers/run"));
    } catch (error) {
      clear(out).append(ctx.errorBox(error));
    }
  });
  runButton.addEventListener("click", async () => {
    if (!assessed) return;
    runButton.disabled = true;
    clear(out).append(h("div", { class: "loading" }, t("transfers.running")));
    try {
      const d = await submit(assessed, true);
      clear(out).append(decisionView(d, true));
    } catch (error) {
      const decision = error instanceof ApiError ? error.problem.decision : null;
      clear(out).append(ctx.errorBox(error));
      if (decision) out.append(decisionView(decision, false));
    }
    assessed = null;
  });
  return form;
}

const STATUS = { valid: "ok", "renew now": "warn", expired: "bad" };

function approvalsPanel(ctx, data, reload) {
  const form = h(
    "form",
    { class: "form-inline", id: "approval-form" },
    field(t("approvals.id"), h("input", { name: "id", required: true, placeholder: "SCC-2026-01" })),
    field(
      t("approvals.kind"),
      select("kind", ["standard_contract", "security_assessment", "certification", "mapping_approval", "regulator_filing"].map((k) => [k, t(`approval.${k}`)]), "standard_contract"),
    ),
    field(t("transfers.recipient"), h("input", { name: "recipient", placeholder: t("approvals.any") })),
    field(t("transfers.purpose"), h("input", { name: "purpose", placeholder: t("approvals.any") })),
    field(t("approvals.issued"), h("input", { name: "issued", type: "date", required: true, value: data.today })),
    field(t("approvals.expires"), h("input", { name: "expires", type: "date" })),
    h("button", { type: "submit", class: "btn", "data-needs": "POST /v1/approvals" }, t("approvals.add")),
  );
  const msg = h("div");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const f = new FormData(form);
    const body = { id: f.get("id"), kind: f.get("kind"), issued: f.get("issued") };
    for (const k of ["recipient", "purpose", "expires"]) if (f.get(k)) body[k] = f.get(k);
    try {
      await api("/v1/approvals", { method: "POST", json: body });
      await reload();
    } catch (error) {
      clear(msg).append(ctx.errorBox(error));
    }
  });
  return panel(
    t("approvals.title"),
    h("p", { class: "muted" }, t("approvals.lead", { days: data.renewal_window_working_days }), " ", refNode(data.ref)),
    table(
      [
        { label: "approvals.id", render: (a) => h("code", {}, a.id) },
        { label: "approvals.kind", render: (a) => t(`approval.${a.kind}`) },
        { label: "transfers.recipient", render: (a) => a.recipient || t("approvals.any") },
        { label: "transfers.purpose", render: (a) => a.purpose || t("approvals.any") },
        { label: "common.categories", render: (a) => (a.categories.length ? a.categories.join(", ") : t("approvals.any")) },
        { label: "approvals.max", num: true, render: (a) => (a.max_individuals === null ? "—" : fmt.int(a.max_individuals)) },
        { key: "issued", label: "approvals.issued" },
        { label: "approvals.expires", render: (a) => a.expires || t("approvals.no_expiry") },
        { label: "approvals.renew_from", render: (a) => a.renew_from || "—" },
        { label: "common.status", render: (a) => badge(STATUS[a.status] || "muted", t(`approvals.status.${a.status.replace(" ", "_")}`)) },
      ],
      data.approvals,
      { testid: "approvals", rowClass: (a) => (a.status === "expired" ? "row-bad" : a.status === "renew now" ? "row-warn" : null) },
    ),
    h("h3", {}, t("approvals.add_title")),
    form,
    msg,
  );
}

export async function render(root, ctx) {
  const [datasets, approvals] = await Promise.all([api("/v1/datasets"), api("/v1/console/approvals")]);
  clear(root);
  const out = h("div", { id: "decision-out" });
  const registry = h("div");
  const reload = async () => {
    const fresh = await api("/v1/console/approvals");
    clear(registry).append(approvalsPanel(ctx, fresh, reload));
    ctx.applyRoles(registry);
  };
  registry.append(approvalsPanel(ctx, approvals, reload));
  root.append(
    h(
      "div",
      { class: "grid-2 wide-left" },
      panel(t("transfers.request"), h("p", { class: "muted" }, t("transfers.lead")), requestForm(ctx, datasets, out)),
      panel(t("transfers.result"), out),
    ),
    registry,
  );
  out.append(h("p", { class: "muted" }, t("transfers.result_empty")));
}
