"""Build, verify and check the annual report (Provisions 2021, Arts. 13 and 14).

>>> import tempfile
>>> from onshore.config import load_config
>>> from onshore.store import DataHome
>>> with DataHome(tempfile.mkdtemp(), environ={}) as home:
...     report = build_report(home, load_config(None, home=home.path), 2026, lang="en", fmt="md")
...     result = verify_document(home, load_config(None, home=home.path), report.content)
>>> report.content[:8], result.ok
(b'# Annual', True)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from onshore.config import Config
from onshore.errors import BadInput
from onshore.report.collect import FORMAT, collect, head_problems, sth_of
from onshore.report.figures import contradictions, gaps
from onshore.report.pdf import html_to_pdf, pdf_block, pdf_text
from onshore.report.render import FORMATS, LANGS, embed_json, extract_block, gap_text, render
from onshore.store import DataHome


@dataclass(frozen=True)
class Report:
    """A rendered report: the file's bytes and the data block it embeds."""

    content: bytes
    data: Mapping[str, Any]
    lang: str
    fmt: str


@dataclass(frozen=True)
class VerifyResult:
    """What ``report verify`` found: the tables checked and every mismatch."""

    checked: tuple[str, ...]
    problems: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.problems


def build_report(
    home: DataHome,
    config: Config,
    year: int,
    *,
    lang: str = "zh",
    fmt: str = "html",
    as_of: str | None = None,
) -> Report:
    """Collect the figures of ``year`` and render them in ``lang`` as ``fmt``."""
    if lang not in LANGS:
        raise BadInput(f"unknown language {lang!r} (one of: {', '.join(LANGS)})", field="lang")
    if fmt not in FORMATS:
        raise BadInput(f"unknown format {fmt!r} (one of: {', '.join(FORMATS)})", field="format")
    data = collect(home, config, year, as_of=as_of)
    data["render"] = {"lang": lang, "format": fmt}
    return Report(_render_bytes(data, lang, fmt), data, lang, fmt)


def _render_bytes(data: Mapping[str, Any], lang: str, fmt: str) -> bytes:
    if fmt == "pdf":
        return html_to_pdf(render(data, lang, "html"), embed_json(data), str(data["as_of"]))
    return render(data, lang, fmt).encode("utf-8")


def read_block(content: bytes) -> dict[str, Any]:
    """The data block of a report file in any format."""
    if content.startswith(b"%PDF"):
        return pdf_block(content)
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput("not a UTF-8 text report nor a PDF") from exc
    return extract_block(text)


def verify_document(home: DataHome, config: Config, content: bytes) -> VerifyResult:
    """Recompute every figure of a report against the home; compare; check the document.

    Checks, in order: the embedded signed tree head is signed by a ledger key and is the head
    the ledger holds for that size; every table (query and rows) equals a fresh computation over
    that ledger prefix and the metadata as of the report time; no section contradicts another
    (:func:`onshore.report.figures.contradictions`); the visible document is the rendering of
    the embedded figures (Markdown and HTML byte for byte, PDF by page text).
    """
    block = read_block(content)
    if block.get("format") != FORMAT:
        raise BadInput(f"not an {FORMAT} data block (format {block.get('format')!r})")
    head = sth_of(block)
    problems = head_problems(home, head)
    if problems:
        return VerifyResult((), tuple(problems))
    fresh = collect(
        home,
        config,
        int(block["year"]),
        as_of=str(block["as_of"]),
        tree_size=head.tree_size if head is not None else 0,
    )
    for key in ("year", "as_of", "tz", "pack", "sth", "processor"):
        if fresh.get(key) != block.get(key):
            problems.append(f"{key}: report says {block.get(key)!r}, home gives {fresh.get(key)!r}")
    theirs: dict[str, Any] = block.get("tables", {})
    for table_id, table in fresh["tables"].items():
        problems.extend(compare_table(table_id, theirs.get(table_id), table))
    for table_id in sorted(set(theirs) - set(fresh["tables"])):
        problems.append(f"{table_id}: not a table of this report format")
    problems.extend(f"contradiction: {c}" for c in contradictions(block))
    if not problems:
        problems.extend(_check_document(content, block))
    return VerifyResult(tuple(fresh["tables"]), tuple(problems))


def compare_table(table_id: str, theirs: Any, ours: Mapping[str, Any]) -> list[str]:
    if not isinstance(theirs, dict):
        return [f"{table_id}: missing from the report"]
    if theirs.get("query") != ours["query"]:
        return [f"{table_id}: the query differs from the one this report format runs"]
    rows, fresh = theirs.get("rows"), ours["rows"]
    if rows == fresh:
        return []
    if not isinstance(rows, list) or len(rows) != len(fresh):
        count = len(rows) if isinstance(rows, list) else "?"
        return [f"{table_id}: {count} rows in the report, {len(fresh)} recomputed"]
    for i, (a, b) in enumerate(zip(rows, fresh, strict=True)):
        if a != b:
            return [f"{table_id}: row {i} is {a!r} in the report, recomputed {b!r}"]
    return []


def _check_document(content: bytes, block: Mapping[str, Any]) -> list[str]:
    """The visible document must be exactly what the embedded figures render to."""
    meta = block.get("render") or {}
    lang, fmt = meta.get("lang", "zh"), meta.get("format", "html")
    if fmt not in FORMATS or lang not in LANGS:
        return [f"render: unknown language or format {meta!r}"]
    expected = _render_bytes(block, lang, fmt)
    if fmt == "pdf":
        ours, theirs = pdf_text(expected), pdf_text(content)
        if ours == theirs:
            return []
        if len(ours) != len(theirs):
            return [f"document: {len(theirs)} pages, the figures render to {len(ours)}"]
        page = next(i for i, (a, b) in enumerate(zip(ours, theirs, strict=True)) if a != b)
        return [f"document: the text of page {page + 1} differs from the embedded figures"]
    if expected == content:
        return []
    ours_lines = expected.decode("utf-8").splitlines()
    theirs_lines = content.decode("utf-8", "replace").splitlines()
    for i, (a, b) in enumerate(zip(ours_lines, theirs_lines, strict=False)):
        if a != b:
            return [f"document: line {i + 1} differs from the embedded figures: {b[:120]!r}"]
    return ["document: its length differs from the rendering of the embedded figures"]


def missing_to_file(home: DataHome, config: Config, year: int) -> list[str]:
    """What ``report due`` lists: what is missing or overdue for filing ``year``'s report."""
    out: list[str] = []
    p = config.processor
    if not config.configured:
        out.append("processor.legal_entity is not configured (HOME/config.yaml)")
    for name, contact in (
        ("province", None),
        ("responsible_person", p.responsible_person),
        ("user_rights_contact", p.user_rights_contact),
    ):
        if contact is None:
            if p.province == "(not configured)":
                out.append("processor.province is not configured (where the report is filed)")
        elif contact.name == "(not configured)" or not (
            contact.phone or contact.email or contact.contact
        ):
            out.append(f"processor.{name}: a name and a phone, e-mail or contact are needed")
    data = collect(home, config, year)
    tables = data["tables"]
    if data["sth"] is None:
        out.append("the ledger is empty: nothing was recorded to report")
    if not tables["scale"]["rows"] or tables["scale"]["rows"][-1][1] == 0:
        out.append(f"no data collected in {year} is held in the lake")
    # every gap the report itself shows, in the same words
    out.extend(gap_text(key, values, "en") for key, values in gaps(data))
    out.extend(f"the figures contradict each other: {c}" for c in contradictions(data))
    today = dt.date.fromisoformat(str(data["as_of"])[:10])
    deadline = dt.date(year, 12, 15)
    if today > deadline:
        out.append(f"the filing deadline {deadline} has passed")
    return out
