"""The PDF: the HTML report typeset by WeasyPrint (Pango, so Chinese lines break correctly),
the SVG charts drawn as vectors, and the data block attached as ``onshore-report.json``.

Chinese needs a CJK font that fontconfig can find; the Makefile installs Debian's
``fonts-wqy-zenhei`` when none is present. :func:`cjk_font` says which one is used.

The typesetter fetches nothing but ``data:`` URLs (:func:`url_fetcher`): no ``file:``,
``http:`` or any other link in the HTML can pull a file of the server into the PDF (as an
attachment, an image or a stylesheet), whatever the HTML holds. The report's fonts come from
fontconfig, its charts are inline SVG: it needs nothing else.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
import subprocess
from typing import Any

from onshore.errors import BadInput

ATTACHMENT = "onshore-report.json"


def cjk_font() -> str | None:
    """The file of a CJK font fontconfig knows (``None`` when there is none, or no fc-list)."""
    if shutil.which("fc-list") is None:
        return None
    found = subprocess.run(
        ["fc-list", ":lang=zh", "file"], capture_output=True, text=True, check=False
    ).stdout.split()
    return found[0].rstrip(":") if found else None


def url_fetcher() -> Any:
    """WeasyPrint's fetcher, allowed ``data:`` URLs only and no redirects; any other URL fails
    (WeasyPrint then leaves the resource out and logs a warning)."""
    from weasyprint.urls import URLFetcher

    class DataOnly(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            if not url[:5].lower() == "data:":
                raise ValueError(f"the report fetches only data: URLs, not {url[:60]!r}")
            return super().fetch(url, headers)

    return DataOnly(allowed_protocols={"data"}, allow_redirects=False, timeout=1)


def html_to_pdf(html: str, block: str, created: str) -> bytes:
    """Typeset ``html``; attach the JSON ``block``; fixed dates so runs differ only in fonts."""
    try:
        from weasyprint import HTML, Attachment
    except (ImportError, OSError) as exc:
        raise BadInput(
            f"PDF output needs WeasyPrint and its system libraries (Pango): {exc}; "
            "pip install 'onshore[report]', or use --format html"
        ) from exc
    when = dt.datetime.fromisoformat(created.replace("Z", "+00:00")).replace(tzinfo=None)
    attachment = Attachment(
        string=block,
        name=ATTACHMENT,
        description="Onshore report data: figures, queries, signed tree head",
        created=when,
        modified=when,
    )
    document = HTML(string=html, base_url=None, url_fetcher=url_fetcher()).render()
    pdf: bytes = document.write_pdf(attachments=[attachment])
    return pdf


def pdf_block(data: bytes) -> dict[str, Any]:
    """The data block attached to a report PDF."""
    reader = _reader(data)
    files = reader.attachments.get(ATTACHMENT)
    if not files:
        raise BadInput(f"no {ATTACHMENT} attached to this PDF")
    try:
        block = json.loads(files[0].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(f"the PDF's {ATTACHMENT} is not valid JSON: {exc}") from exc
    if not isinstance(block, dict):
        raise BadInput(f"the PDF's {ATTACHMENT} is not a JSON object")
    return block


def pdf_text(data: bytes) -> list[str]:
    """The text of each page, as a PDF reader extracts it."""
    return [page.extract_text() or "" for page in _reader(data).pages]


def _reader(data: bytes) -> Any:
    try:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError
    except ImportError as exc:
        raise BadInput("reading a report PDF needs pypdf: pip install 'onshore[report]'") from exc
    try:
        return PdfReader(io.BytesIO(data))
    except (PdfReadError, ValueError, OSError) as exc:
        raise BadInput(f"not a readable PDF: {exc}") from exc
