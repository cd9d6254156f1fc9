"""The compliance console: plain HTML, CSS and JavaScript modules served by the service itself.

The files under ``static/`` are package data; no build step, no server besides ``onshore
serve``. They talk only to the JSON API (``/v1/…``, the console's extras in
:mod:`onshore.service.routes.console`) with the API key the user logs in with, so whatever
the console shows or does, the API has checked the key's role and written the ledger.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
PREFIX = "/console"


def mount_console(app: FastAPI) -> None:
    """Serve the console at ``/console/`` (and send ``/`` there unless the app has a root)."""
    app.mount(PREFIX, StaticFiles(directory=STATIC, html=True), name="console")
    has_root = any(isinstance(r, APIRoute) and r.path == "/" for r in app.router.routes)
    if not has_root:

        @app.get("/", include_in_schema=False)
        def root() -> RedirectResponse:
            return RedirectResponse(f"{PREFIX}/", status_code=307)
