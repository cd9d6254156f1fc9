"""The compliance console: plain HTML, CSS and JavaScript modules served by the service itself.

The files under ``static/`` are package data; no build step, no server besides ``onshore
serve``. They talk only to the JSON API (``/v1/…``, the console's extras in
:mod:`onshore.service.routes.console`) with the API key the user logs in with, so whatever
the console shows or does, the API has checked the key's role and written the ledger.

The console opens in the browser's language: ``/console/`` is the page with ``<html lang>``
chosen from the request's ``Accept-Language`` (:func:`console_language`: Chinese for a Chinese
browser, else English), which the scripts start in; a language the user picks with the switch
is remembered in the browser and wins from then on.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
PREFIX = "/console"
LANGUAGES = ("zh", "en")  # the console's dictionaries (static/i18n/*.json)
HTML_LANG = {"zh": "zh-CN", "en": "en"}
NOSCRIPT = {
    "zh": "Onshore 控制台需要启用 JavaScript。",
    "en": "Onshore's console needs JavaScript.",
}
_RANGE = re.compile(  # a language range with its optional quality: "zh-CN", "en;q=0.8", "*"
    r"^\s*([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)\s*(?:;\s*q\s*=\s*([0-9.]+))?\s*$"
)


def console_language(accept_language: str | None) -> str:
    """``zh`` or ``en``: the first of the console's languages in the browser's order of
    preference (``Accept-Language``, RFC 9110 quality values); English when it names neither.

    >>> console_language("zh-CN,zh;q=0.9,en;q=0.8")
    'zh'
    >>> console_language("en-US,en;q=0.9,zh-TW;q=0.5")
    'en'
    >>> console_language("fr-FR, zh-Hans;q=0.7, en;q=0.3"), console_language(None)
    ('zh', 'en')
    """
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate((accept_language or "")[:1000].split(",")):
        match = _RANGE.match(item)
        if match is None:
            continue  # a malformed range is ignored, as RFC 9110 lets a server do
        try:
            quality = float(match.group(2)) if match.group(2) else 1.0
        except ValueError:
            continue
        primary = match.group(1).split("-")[0].lower()
        if quality > 0 and primary in LANGUAGES:
            ranked.append((-quality, position, primary))
    return min(ranked)[2] if ranked else "en"


def _index(language: str) -> str:
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    page = page.replace('<html lang="zh-CN">', f'<html lang="{HTML_LANG[language]}">', 1)
    return page.replace(NOSCRIPT["en"], NOSCRIPT[language], 1)


def mount_console(app: FastAPI) -> None:
    """Serve the console at ``/console/`` (and send ``/`` there unless the app has a root)."""

    @app.get(f"{PREFIX}/", include_in_schema=False)
    @app.get(f"{PREFIX}/index.html", include_in_schema=False)
    def index(request: Request) -> HTMLResponse:
        language = console_language(request.headers.get("accept-language"))
        return HTMLResponse(
            _index(language),
            headers={"Vary": "Accept-Language", "Cache-Control": "no-cache"},
        )

    app.mount(PREFIX, StaticFiles(directory=STATIC, html=True), name="console")
    has_root = any(isinstance(r, APIRoute) and r.path == "/" for r in app.router.routes)
    if not has_root:

        @app.get("/", include_in_schema=False)
        def root() -> RedirectResponse:
            return RedirectResponse(f"{PREFIX}/", status_code=307)
