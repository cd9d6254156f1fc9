"""Security headers on every response of the service, whoever made it.

A pure ASGI middleware, added outermost so that it also covers what other middleware answers
(413 from :class:`~onshore.service.limits.BodyLimit`), error responses and static files:

* ``Content-Security-Policy``: the API's answers may load nothing and be framed by no one;
  the console (``/console/``) loads its own scripts, styles and data from the service only;
  the documentation pages (``/docs``, ``/redoc``) get :data:`onshore.service.docs.DOCS_CSP`;
* ``X-Frame-Options: DENY``, ``X-Content-Type-Options: nosniff``,
  ``Referrer-Policy: no-referrer`` everywhere;
* ``Cache-Control: no-store`` on every ``/v1/`` answer: they carry personal data, keys and
  ledger entries, which no browser or proxy cache should keep.

The console's policy allows inline *styles* (not scripts): its views set ``style`` attributes
(the colour swatches of the areas legend) and the report preview is a sandboxed ``srcdoc``
frame, which inherits the console's policy, showing the report's own ``<style>``. Its scripts
are files of the package (``script-src 'self'``), so an injected script does not run.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from onshore.service.docs import DOCS_CSP, PAGES

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
CONSOLE_CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
COMMON = (
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
)


def policy_for(path: str) -> str:
    """The Content-Security-Policy of the response to ``path``."""
    if path == "/console" or path.startswith("/console/"):
        return CONSOLE_CSP
    if path in PAGES:
        return DOCS_CSP
    return API_CSP


def headers_for(path: str) -> list[tuple[str, str]]:
    """Every security header the response to ``path`` carries."""
    out = [("Content-Security-Policy", policy_for(path)), *COMMON]
    if path.startswith("/v1/"):
        out.append(("Cache-Control", "no-store"))
    return out


class SecurityHeaders:
    """Sets :func:`headers_for` on every HTTP response (replacing any the app set)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = headers_for(str(scope.get("path", "")))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra:
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
