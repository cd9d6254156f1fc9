// The console shell: login with an API key, the views, the language switch, role gating.
import { api, ApiError, key, setKey } from "./api.js";
import { clear, h, setInstruments } from "./dom.js";
import { language, loadLanguages, setLanguage, t, translate } from "./i18n.js";
import * as areas from "./views/areas.js";
import * as ledger from "./views/ledger.js";
import * as overview from "./views/overview.js";
import * as reports from "./views/reports.js";
import * as subjects from "./views/subjects.js";
import * as transfers from "./views/transfers.js";

const VIEWS = { overview, transfers, subjects, ledger, reports, areas };
const app = document.getElementById("app");
let session = null;

// Whether the key's role may call "METHOD /path" (the API enforces it again).
export function can(operation) {
  return Boolean(session && session.allowed.includes(operation));
}

// Disable every control whose data-needs operation the role may not call.
export function applyRoles(root) {
  for (const el of root.querySelectorAll("[data-needs]")) {
    const needed = el.dataset.needs.split("|");
    if (!needed.some(can)) {
      el.disabled = true;
      el.classList.add("forbidden");
      el.title = t("auth.readonly_hint", { role: t(`role.${session.role}`) });
    }
  }
}

export function errorBox(error) {
  const p = error instanceof ApiError ? error.problem : { detail: String(error) };
  const status = error instanceof ApiError ? error.status : "";
  return h(
    "div",
    { class: "alert alert-bad", role: "alert", "data-testid": "error" },
    h("strong", {}, `${status} ${p.title || t("common.error")}`.trim()),
    h("div", {}, p.detail || ""),
    p.field ? h("div", { class: "muted" }, `${t("common.field")}: ${p.field}`) : null,
  );
}

function renderLogin(message) {
  clear(app);
  const input = h("input", {
    type: "password",
    id: "login-key",
    autocomplete: "off",
    spellcheck: "false",
    "data-i18n-placeholder": "login.placeholder",
  });
  const form = h(
    "form",
    {
      class: "login",
      id: "login-form",
      onsubmit: async (event) => {
        event.preventDefault();
        await login(input.value.trim());
      },
    },
    h("div", { class: "brand brand-lg" }, h("span", { class: "logo" }, "岸"), "Onshore"),
    h("h1", { "data-i18n": "login.title" }),
    h("p", { class: "muted", "data-i18n": "login.lead" }),
    h("label", { class: "field" }, h("span", { class: "field-label", "data-i18n": "login.key" }), input),
    message ? h("div", { class: "alert alert-bad", "data-testid": "login-error" }, message) : null,
    h("button", { type: "submit", class: "btn btn-primary", id: "login-submit", "data-i18n": "login.submit" }),
    h("p", { class: "muted small", "data-i18n": "login.roles" }),
    langSwitch(() => renderLogin(message)),
  );
  app.append(h("div", { class: "login-wrap" }, form));
  translate(app);
  input.focus();
}

async function login(value) {
  if (!value) return;
  setKey(value);
  try {
    session = await api("/v1/console/session");
    setInstruments(session.instruments);
  } catch (error) {
    setKey(null);
    session = null;
    renderLogin(error instanceof ApiError && error.status === 401 ? t("login.bad_key") : error.message);
    return;
  }
  if (!location.hash) location.hash = "#/overview";
  renderShell();
}

function logout() {
  setKey(null);
  session = null;
  location.hash = "";
  renderLogin();
}

function langSwitch(after) {
  const box = h("div", { class: "lang-switch", role: "group", "aria-label": "language" });
  for (const [lang, label] of [["zh", "中文"], ["en", "EN"]]) {
    box.append(
      h(
        "button",
        {
          type: "button",
          class: lang === language() ? "active" : null,
          "data-lang": lang,
          onclick: () => {
            setLanguage(lang);
            after();
          },
        },
        label,
      ),
    );
  }
  return box;
}

function currentView() {
  const name = (location.hash.match(/^#\/(\w+)/) || [])[1];
  return VIEWS[name] ? name : "overview";
}

function renderShell() {
  clear(app);
  const view = currentView();
  const nav = h(
    "nav",
    { class: "tabs" },
    Object.keys(VIEWS).map((name) =>
      h("a", { href: `#/${name}`, class: name === view ? "active" : null, "data-view": name }, t(`nav.${name}`)),
    ),
  );
  const readonly = session.changes.length === 0;
  const header = h(
    "header",
    { class: "top" },
    h("div", { class: "brand" }, h("span", { class: "logo" }, "岸"), "Onshore", h("span", { class: "brand-sub" }, t("app.subtitle"))),
    nav,
    h(
      "div",
      { class: "who" },
      h("span", { class: "who-name", "data-testid": "who" }, session.name),
      h("span", { class: `badge badge-role role-${session.role}`, "data-testid": "role" }, t(`role.${session.role}`)),
      session.abroad ? h("span", { class: "badge badge-bad" }, t("auth.abroad", { country: session.country })) : null,
      langSwitch(renderShell),
      h("button", { type: "button", class: "btn btn-ghost", id: "logout", onclick: logout }, t("auth.logout")),
    ),
  );
  const main = h("main", { id: "view", "data-view": view });
  app.append(header);
  if (readonly) {
    app.append(h("div", { class: "readonly-bar", "data-testid": "readonly" }, t("auth.readonly", { role: t(`role.${session.role}`) })));
  }
  app.append(main);
  const ctx = { session, can, applyRoles, errorBox, rerender: renderShell };
  main.append(h("div", { class: "loading" }, t("common.loading")));
  VIEWS[view]
    .render(main, ctx)
    .then(() => {
      applyRoles(main);
      main.dataset.ready = "1";
    })
    .catch((error) => {
      clear(main).append(errorBox(error));
      main.dataset.ready = "1";
    });
  document.title = `${t(`nav.${view}`)} · Onshore`;
}

window.addEventListener("hashchange", () => {
  if (session) renderShell();
});

async function start() {
  await loadLanguages();
  if (key()) {
    await login(key());
  } else {
    renderLogin();
  }
}

start();
