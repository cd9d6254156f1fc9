"""The API documentation pages, served from the package: ``/docs`` (Swagger UI) and ``/redoc``.

FastAPI's default pages load their scripts from a CDN: broken on a network without one (a
service in a closed network, or in China, where the usual CDNs are often unreachable), and a
third-party script on a page where an operator types an API key. These pages load Swagger UI
and ReDoc from the files the ``fastapi-offline`` package ships (part of the ``service`` extra),
under ``/docs/static/``; nothing leaves the service. The OpenAPI schema stays at
``/openapi.json``.

Each page's one inline script is pinned by its SHA-256 in :data:`DOCS_CSP`, the Content
Security Policy :mod:`onshore.service.headers` sends with these pages only.

Without ``fastapi-offline`` installed the pages are not served (``/openapi.json`` still is).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_PATH = "/docs"
REDOC_PATH = "/redoc"
STATIC_PATH = "/docs/static"
PAGES = (DOCS_PATH, REDOC_PATH)

# Swagger UI's settings: no validator badge (it would call a third-party service).
_SWAGGER_INIT = (
    "window.ui = SwaggerUIBundle({"
    'url: "/openapi.json", dom_id: "#swagger-ui", layout: "BaseLayout", deepLinking: true,'
    " showExtensions: true, showCommonExtensions: true, validatorUrl: null,"
    " presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset]});"
)


def _sha256(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"


# Swagger UI and ReDoc set inline styles (ReDoc injects <style> elements) and ReDoc runs its
# search in a worker made from a blob: URL; nothing is loaded from anywhere but the service.
DOCS_CSP = "; ".join(
    (
        "default-src 'self'",
        f"script-src 'self' {_sha256(_SWAGGER_INIT)}",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "worker-src 'self' blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)


def static_folder() -> Path | None:
    """The folder of Swagger UI's and ReDoc's files, or ``None`` without fastapi-offline."""
    try:
        import fastapi_offline
    except ImportError:
        return None
    folder = Path(fastapi_offline.__file__).parent / "static"
    return folder if (folder / "swagger-ui-bundle.js").is_file() else None


def _swagger_page(title: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} - Swagger UI</title>
<link rel="stylesheet" href="{STATIC_PATH}/swagger-ui.css">
<link rel="icon" href="{STATIC_PATH}/favicon.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{STATIC_PATH}/swagger-ui-bundle.js"></script>
<script>{_SWAGGER_INIT}</script>
</body>
</html>
"""


def _redoc_page(title: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} - ReDoc</title>
<link rel="icon" href="{STATIC_PATH}/favicon.png">
</head>
<body>
<redoc spec-url={json.dumps("/openapi.json")}></redoc>
<script src="{STATIC_PATH}/redoc.standalone.js"></script>
</body>
</html>
"""


def mount_docs(app: FastAPI) -> bool:
    """Serve ``/docs`` and ``/redoc`` from the package's files; ``False`` when they are missing
    (the app must be made with ``docs_url=None, redoc_url=None``)."""
    folder = static_folder()
    if folder is None:
        return False
    app.mount(STATIC_PATH, StaticFiles(directory=folder), name="docs-static")
    swagger, redoc = _swagger_page(app.title), _redoc_page(app.title)

    @app.get(DOCS_PATH, include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(swagger)

    @app.get(REDOC_PATH, include_in_schema=False)
    def redoc_page() -> HTMLResponse:
        return HTMLResponse(redoc)

    return True
