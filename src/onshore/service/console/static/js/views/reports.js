// Reports: the annual report (html, md, pdf; zh or en) and the privacy notice, downloaded or
// previewed, both built by the service from the ledger, the stores and config.yaml.
import { download, request } from "../api.js";
import { clear, field, fmt, h, panel, select } from "../dom.js";
import { language, t } from "../i18n.js";

function langs(value) {
  return select("lang", [["zh", "中文 (zh)"], ["en", "English (en)"]], value);
}

export async function render(root, ctx) {
  clear(root);
  const year = new Date().getFullYear();
  const preview = h("iframe", { class: "preview", id: "preview", title: "preview", sandbox: "" });
  preview.addEventListener("load", () => {
    preview.dataset.loaded = preview.srcdoc ? "1" : "";
  });
  const msg = h("div", { id: "report-msg" });

  const reportForm = h(
    "form",
    { class: "form-inline", id: "report-form" },
    field(t("reports.year"), h("input", { name: "year", type: "number", min: 2000, max: 2100, value: year, class: "short" })),
    field(t("reports.lang"), langs(language())),
    field(t("reports.format"), select("format", [["html", "HTML"], ["pdf", "PDF"], ["md", "Markdown"]], "html")),
    h("button", { type: "submit", class: "btn btn-primary", id: "report-download", "data-needs": "GET /v1/reports/{year}" }, t("reports.download")),
    h("button", { type: "button", class: "btn", id: "report-preview", "data-needs": "GET /v1/reports/{year}" }, t("reports.preview")),
  );
  const reportUrl = () => {
    const f = new FormData(reportForm);
    return [`/v1/reports/${f.get("year")}?lang=${f.get("lang")}&format=${f.get("format")}`, `onshore-report-${f.get("year")}-${f.get("lang")}.${f.get("format")}`];
  };
  reportForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const [url, name] = reportUrl();
    clear(msg).append(h("div", { class: "loading" }, t("reports.building")));
    try {
      const saved = await download(url, name);
      clear(msg).append(h("div", { class: "alert alert-ok", "data-testid": "report-saved" }, t("reports.saved", { name: saved.name, size: fmt.bytes(saved.size) })));
    } catch (error) {
      clear(msg).append(ctx.errorBox(error));
    }
  });
  const showPreview = async (url) => {
    clear(msg).append(h("div", { class: "loading" }, t("reports.building")));
    try {
      const response = await request(url);
      const type = response.headers.get("Content-Type") || "";
      const text = await response.text();
      preview.dataset.loaded = "";
      preview.srcdoc = type.startsWith("text/html") ? text : `<pre style="white-space:pre-wrap;font:13px monospace">${text.replace(/[&<]/g, (c) => (c === "&" ? "&amp;" : "&lt;"))}</pre>`;
      clear(msg);
    } catch (error) {
      clear(msg).append(ctx.errorBox(error));
    }
  };
  reportForm.querySelector("#report-preview").addEventListener("click", () => {
    const [url] = reportUrl();
    showPreview(url.replace(/format=pdf/, "format=html"));
  });

  const noticeForm = h(
    "form",
    { class: "form-inline", id: "notice-form" },
    field(t("reports.lang"), langs(language())),
    field(t("reports.format"), select("format", [["html", "HTML"], ["md", "Markdown"]], "html")),
    h("button", { type: "submit", class: "btn btn-primary", id: "notice-download", "data-needs": "GET /v1/console/notice" }, t("reports.download")),
    h("button", { type: "button", class: "btn", id: "notice-preview", "data-needs": "GET /v1/console/notice" }, t("reports.preview")),
  );
  const noticeUrl = () => {
    const f = new FormData(noticeForm);
    return [`/v1/console/notice?lang=${f.get("lang")}&format=${f.get("format")}`, `notice.${f.get("lang")}.${f.get("format")}`];
  };
  noticeForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const [url, name] = noticeUrl();
    try {
      const saved = await download(url, name);
      clear(msg).append(h("div", { class: "alert alert-ok", "data-testid": "notice-saved" }, t("reports.saved", { name: saved.name, size: fmt.bytes(saved.size) })));
    } catch (error) {
      clear(msg).append(ctx.errorBox(error));
    }
  });
  noticeForm.querySelector("#notice-preview").addEventListener("click", () => showPreview(noticeUrl()[0]));

  root.append(
    h(
      "div",
      { class: "grid-2" },
      panel(t("reports.annual"), h("p", { class: "muted" }, t("reports.annual_lead")), reportForm),
      panel(t("reports.notice"), h("p", { class: "muted" }, t("reports.notice_lead")), noticeForm),
    ),
    msg,
    panel(t("reports.preview_title"), preview),
  );
}
