// UI strings: one JSON dictionary per language (../i18n/en.json, ../i18n/zh.json).
const LANGS = ["zh", "en"];
const dictionaries = {};
let current = "zh";

export async function loadLanguages() {
  await Promise.all(
    LANGS.map(async (lang) => {
      const response = await fetch(new URL(`../i18n/${lang}.json`, import.meta.url));
      dictionaries[lang] = await response.json();
    }),
  );
  // The language the user picked with the switch, else the browser's: the service chose the
  // page's <html lang> from the request's Accept-Language (onshore.service.console).
  const saved = localStorage.getItem("onshore.lang");
  const browser = document.documentElement.lang.toLowerCase().startsWith("zh") ? "zh" : "en";
  setLanguage(LANGS.includes(saved) ? saved : browser, { remember: false });
}

// remember: the user's own choice is kept in the browser; the browser's default is not, so a
// browser whose language changes opens the console in the new one.
export function setLanguage(lang, { remember = true } = {}) {
  current = LANGS.includes(lang) ? lang : "en";
  if (remember) localStorage.setItem("onshore.lang", current);
  document.documentElement.lang = current === "zh" ? "zh-CN" : "en";
}

export function language() {
  return current;
}

// t("key", {n: 3}) → the string in the current language with {n} filled in; the key if missing.
export function t(key, vars) {
  const text = dictionaries[current]?.[key] ?? dictionaries.en?.[key] ?? key;
  if (!vars) return text;
  return text.replace(/\{(\w+)\}/g, (_m, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

// Elements with data-i18n="key" get their text; data-i18n-placeholder their placeholder.
export function translate(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) {
    el.placeholder = t(el.dataset.i18nPlaceholder);
  }
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
}
