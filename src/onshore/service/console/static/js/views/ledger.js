// Ledger: the signed tree head, verification, a search over entries, inclusion proofs.
import { api, ApiError, saveBlob } from "../api.js";
import { badge, clear, field, fmt, h, panel, select, slashCode, table } from "../dom.js";
import { t } from "../i18n.js";

const KINDS = ["collection", "storage", "use", "provision", "export", "deletion", "consent_change", "incident", "complaint", "view", "policy_refusal"];

function headView(sth) {
  if (!sth) return h("p", { class: "muted" }, t("ledger.empty"));
  const rows = [
    [t("ledger.tree_size"), fmt.int(sth.tree_size)],
    [t("ledger.root"), sth.root_hash || sth.root],
    [t("ledger.timestamp"), sth.timestamp_ms ? new Date(sth.timestamp_ms).toISOString() : "—"],
    [t("ledger.key_id"), sth.key_id],
    [t("ledger.signature"), fmt.short(sth.signature, 48)],
  ];
  return h("dl", { class: "kv", "data-testid": "sth" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, h("code", {}, v ?? "—"))]));
}

async function verify(box) {
  clear(box).append(h("span", { class: "muted" }, t("ledger.verifying")));
  try {
    const report = await api("/v1/ledger/verify");
    clear(box).append(
      h("div", { class: "alert alert-ok", "data-testid": "verify-ok" }, h("strong", {}, t("ledger.verified")), h("div", {}, t("ledger.verified_detail", { n: fmt.int(report.entries ?? report.size ?? report.tree_size) }))),
    );
  } catch (error) {
    const detail = error instanceof ApiError ? error.problem.detail : String(error);
    clear(box).append(h("div", { class: "alert alert-bad", "data-testid": "verify-bad" }, h("strong", {}, t("ledger.broken")), h("div", {}, detail)));
  }
}

async function proof(ctx, index, msg) {
  try {
    const data = await api(`/v1/ledger/proofs/inclusion/${index}`);
    saveBlob(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }), `inclusion-proof-${index}.json`);
  } catch (error) {
    clear(msg).append(ctx.errorBox(error));
  }
}

export async function render(root, ctx) {
  const head = await api("/v1/ledger/head");
  clear(root);
  const verifyBox = h("div");
  const results = h("div", { id: "ledger-results" });
  const msg = h("div");
  const q = h("input", { name: "q", id: "f-q", "data-i18n-placeholder": "ledger.q_hint", placeholder: t("ledger.q_hint") });
  const kind = select("kind", [["", t("ledger.any_kind")], ...KINDS.map((k) => [k, t(`kind.${k}`)])], "");
  const form = h(
    "form",
    { class: "form-inline", id: "ledger-form" },
    field(t("ledger.search"), q),
    field(t("ledger.kind"), kind),
    h("button", { type: "submit", class: "btn btn-primary" }, t("ledger.find")),
  );
  const search = async () => {
    const params = new URLSearchParams({ limit: "200" });
    if (q.value.trim()) params.set("q", q.value.trim());
    if (kind.value) params.set("kind", kind.value);
    try {
      const data = await api(`/v1/console/ledger/entries?${params}`);
      clear(results).append(
        h("p", { class: "muted small" }, t("ledger.matched", { n: fmt.int(data.matched), size: fmt.int(data.size), shown: fmt.int(data.entries.length) })),
        table(
          [
            { label: "#", num: true, render: (e) => String(e.index) },
            { label: "ledger.time", render: (e) => fmt.time(e.time) },
            { label: "ledger.kind", render: (e) => badge(e.kind === "policy_refusal" ? "bad" : e.kind === "export" ? "warn" : e.kind === "view" ? "muted" : "info", t(`kind.${e.kind}`)) },
            { key: "actor", label: "ledger.actor" },
            { key: "purpose", label: "transfers.purpose" },
            { label: "common.dataset", render: (e) => slashCode(e.dataset) },
            { key: "decision", label: "transfers.decision" },
            { label: "ledger.subject", render: (e) => (e.subject ? h("code", { title: e.subject }, fmt.short(e.subject, 14)) : "—") },
            {
              label: "ledger.proof",
              render: (e) => h("button", { type: "button", class: "btn btn-small", "data-proof": String(e.index), onclick: () => proof(ctx, e.index, msg) }, t("ledger.download_proof")),
            },
          ],
          data.entries,
          { testid: "entries", rowClass: (e) => (e.kind === "policy_refusal" ? "row-bad" : null) },
        ),
      );
    } catch (error) {
      clear(results).append(ctx.errorBox(error));
    }
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    search();
  });
  root.append(
    panel(
      t("ledger.head"),
      h(
        "div",
        { class: "head-row" },
        headView(head.signed_tree_head),
        h(
          "div",
          { class: "head-verify" },
          h("div", { class: "actions" }, h("button", { type: "button", class: "btn", id: "verify", onclick: () => verify(verifyBox) }, t("ledger.verify"))),
          verifyBox,
          h("p", { class: "muted small" }, t("ledger.audit_hint")),
        ),
      ),
    ),
    panel(t("ledger.entries"), form, msg, results),
  );
  await Promise.all([verify(verifyBox), search()]);
}
