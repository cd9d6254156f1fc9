"""The annual report as use cases: collect its figures, render it, verify a copy of it.

The CLI (``onshore report``, ``onshore report verify``), the service (``GET /v1/reports/YEAR``,
``POST /v1/reports/verify``), the console and a library user call these, so the report means
the same everywhere: the year defaults to this year in the pack's time zone
(:func:`report_year`), the processor configuration is the data home's ``config.yaml`` unless
one is given, and the result is a value (:class:`RenderedReport`, the figures, a
:class:`~onshore.report.VerifyResult`) that the runner renders. What the figures are and how
they are checked is :mod:`onshore.report`'s.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from onshore.config import Config, load_config
from onshore.report.annual import Report, VerifyResult, build_report, verify_document
from onshore.report.collect import collect as collect_figures
from onshore.report.render import filing_warnings
from onshore.store.home import DataHome

__all__ = ["RenderedReport", "VerifyResult", "collect", "render", "report_year", "verify"]


@dataclass(frozen=True)
class RenderedReport:
    """A rendered annual report: the file's bytes, the figures it embeds and what keeps it from
    being filed as is (``warnings``: lateness, missing configuration, in English)."""

    report: Report
    year: int
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def content(self) -> bytes:
        """The document's bytes (HTML, Markdown or PDF)."""
        return self.report.content

    @property
    def filename(self) -> str:
        """``onshore-report-YEAR-LANG.FORMAT``."""
        return f"onshore-report-{self.year}-{self.report.lang}.{self.report.fmt}"

    def summary(self) -> dict[str, Any]:
        """What was rendered, as JSON values: year, language, format, size, SHA-256, the time
        and ledger size it was built at, rows per table, the warnings."""
        data = self.report.data
        sth = data["sth"]
        return {
            "year": self.year,
            "lang": self.report.lang,
            "format": self.report.fmt,
            "bytes": len(self.content),
            "sha256": hashlib.sha256(self.content).hexdigest(),
            "as_of": data["as_of"],
            "tree_size": sth["tree_size"] if sth else 0,
            "tables": {tid: len(t["rows"]) for tid, t in data["tables"].items()},
            "warnings": list(self.warnings),
        }


def report_year(home: DataHome) -> int:
    """This year in the jurisdiction's time (the pack's calendar: Beijing time for cn-auto):
    the report's year is a local year."""
    return home.now().astimezone(home.pack.timezone).year


def _config(home: DataHome, config: Config | None) -> Config:
    return config if config is not None else load_config(None, home=home.path)


def collect(
    home: DataHome, year: int | None = None, *, config: Config | None = None
) -> dict[str, Any]:
    """The report's figures for ``year`` (default :func:`report_year`) as data: the data
    block every rendering embeds and :func:`verify` recomputes."""
    return collect_figures(home, _config(home, config), year or report_year(home))


def render(
    home: DataHome,
    year: int | None = None,
    *,
    lang: str = "zh",
    fmt: str = "html",
    config: Config | None = None,
) -> RenderedReport:
    """Collect the figures of ``year`` (default :func:`report_year`) and render them in
    ``lang`` (``zh``, ``en``) as ``fmt`` (``html``, ``md``, ``pdf``)."""
    year = year or report_year(home)
    built = build_report(home, _config(home, config), year, lang=lang, fmt=fmt)
    return RenderedReport(built, year, tuple(filing_warnings(built.data, "en")))


def verify(home: DataHome, content: bytes, *, config: Config | None = None) -> VerifyResult:
    """Recompute every figure of a report (its bytes, in any format) against ``home``: the
    result lists the tables checked and every mismatch (``ok`` when there is none). A
    mismatch is a value here; the CLI exits 3 on it."""
    return verify_document(home, _config(home, config), content)
