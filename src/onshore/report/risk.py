"""The risk assessment of important-data processing (Provisions 2021, Art. 10), generated.

An assessment is a data block like the annual report's (format ``onshore-risk/1``), made of
the annual report's own tables (:func:`onshore.report.collect.collect`: the same queries, so
never a second definition of a figure) and a table of risks and measures derived from them:

scope
    the processor, the year, the time the figures were taken, the ledger's signed tree head.
types and volume
    ``important`` (important-data rows and individuals by rule and area kind), ``categories``,
    ``scale``.
storage
    ``stores`` (jurisdiction, location, files, records).
third parties and recipients
    ``provision`` (in China), ``exports``, ``exports_use`` (contact, storage abroad, use,
    necessity), ``exported_individuals``.
risks and measures
    ``risks`` (:func:`risks`), ``measures``, ``overdue``, ``incidents``.

Due date (the reading chosen): Art. 10 asks for the assessment and the Network Data Security
Management Regulations (2025) an annual one by important-data processors, neither with a date
(the 2026-12 audit of the texts, §7a item 9: marked [S], the content list [U]). Onshore makes
it due with the annual report, by 15 December of the year (Provisions 2021, Art. 13,
"每年十二月十五日前"), which cites it: :func:`due_date`.

History: each generated assessment is recorded on the ledger (kind ``risk_assessment``) with
its id, year, time, the SHA-256 of its data block (:func:`digest`; the same for its zh and en
documents) and of each document written; :func:`history` lists them and the annual report
cites the latest of its year.

>>> import tempfile
>>> from onshore.config import load_config
>>> from onshore.store import DataHome
>>> with DataHome(tempfile.mkdtemp(), environ={}) as home:
...     config = load_config(None, home=home.path)
...     made = make_assessment(home, config, 2026, langs=("en",), fmt="md")
...     ok = verify_assessment(home, config, made.documents[0].content).ok
...     listed = [h["id"] for h in history(home)]
>>> made.data["format"], ok, listed == [made.id]
('onshore-risk/1', True, True)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from onshore.config import Config
from onshore.errors import BadInput
from onshore.ledger import Activity
from onshore.report.annual import VerifyResult, compare_table, read_block
from onshore.report.collect import collect, head_problems, sth_of
from onshore.report.figures import IMPORTANT
from onshore.report.pdf import html_to_pdf, pdf_text
from onshore.report.render import (
    FORMATS,
    LANGS,
    TableView,
    embed_json,
    labels,
    render_text,
    table_view,
    time_text,
)
from onshore.store import DataHome

FORMAT = "onshore-risk/1"
#: the annual report's tables an assessment holds, by section of its document
SECTIONS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("s2", (("important", "s2_important"), ("categories", "s2_categories"), ("scale", "s2_scale"))),
    ("s3", (("stores", "s3_stores"),)),
    (
        "s4",
        (
            ("provision", "t_provision"),
            ("exports", "t_exports"),
            ("exports_use", "s7_use"),
            ("exported_individuals", "s7_individuals"),
        ),
    ),
    (
        "s5",
        (
            ("risks", "t_risks"),
            ("measures", "s3_measures"),
            ("overdue", "s3_overdue"),
            ("incidents", "t_incidents"),
        ),
    ),
)
TABLES = tuple(t for _s, tables in SECTIONS for t, _title in tables if t != "risks")
#: what else the risks are derived from (kept in the block so they can be recomputed from it)
SOURCES = ("refusals", "deletions")
RISK_COLUMNS = ["risk", "risk_level", "risk_status", "measures", "risk_evidence"]


def due_date(year: int) -> dt.date:
    """When the assessment of ``year`` is due: with the annual report, 15 December."""
    return dt.date(year, 12, 15)


def digest(data: Mapping[str, Any]) -> str:
    """SHA-256 of a data block (less its ``render`` part) as canonical JSON: one digest for the
    assessment, whichever language and format it was written in."""
    body = {k: v for k, v in data.items() if k != "render"}
    text = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _rows(tables: Mapping[str, Any], table_id: str) -> list[dict[str, Any]]:
    t = tables.get(table_id) or {"columns": [], "rows": []}
    return [dict(zip(t["columns"], r, strict=True)) for r in t["rows"]]


def risks(tables: Mapping[str, Any]) -> list[list[Any]]:
    """The risks of the processing and the measures against them, from the tables alone.

    Each row: the risk, its level (``high`` while the data it concerns is held, else ``low``),
    its status (``mitigated`` when the measures named are in place and nothing is outstanding,
    ``open`` otherwise, ``not_applicable`` when nothing it concerns happened), the measures, and
    the figures it rests on (``{"key": risk, values}``).
    """
    measures = {r["measure"]: r["status"] for r in _rows(tables, "measures")}
    out: list[list[Any]] = []

    def add(risk: str, held: bool, outstanding: bool, names: Sequence[str], **figures: Any) -> None:
        in_place = all(measures.get(m, "on") == "on" for m in names)
        status = (
            "not_applicable"
            if not held
            else ("mitigated" if in_place and not outstanding else "open")
        )
        level = ("high" if risk.startswith("important") else "medium") if held else "low"
        out.append([risk, level, status, ", ".join(names), {"key": risk, **figures}])

    important = next((r for r in _rows(tables, "important") if r["rule"] == "*"), None)
    rows = int(important["records"]) if important else 0
    people = int(important["individuals"]) if important else 0
    add(
        "important_held",
        rows > 0,
        False,
        ("residency", "keystore", "ledger"),
        rows=rows,
        individuals=people,
    )
    assessed = [
        r for r in _rows(tables, "exports") if str(r["decision"]).endswith(" security_assessment")
    ]
    unapproved = sum(int(r["exports"]) for r in assessed if not r["approval"])
    refused = sum(int(r["entries"]) for r in _rows(tables, "refusals"))
    add(
        "important_abroad",
        bool(assessed) or refused > 0,
        unapproved > 0,
        ("transfer_gate", "ledger"),
        exports=sum(int(r["exports"]) for r in assessed),
        unapproved=unapproved,
        refusals=refused,
    )
    use = _rows(tables, "exports_use")
    declared = (
        "recipient_contact",
        "storage_location",
        "storage_period",
        "scope_of_use",
        "manner_of_use",
        "necessity",
    )
    undeclared = {r["recipient"] for r in use if not all(r.get(f) for f in declared)}
    add(
        "undeclared_abroad",
        bool(use),
        bool(undeclared),
        ("transfer_gate",),
        recipients=len({r["recipient"] for r in use}),
        undeclared=len(undeclared),
    )
    provision = _rows(tables, "provision")
    add(
        "third_parties",
        bool(provision),
        False,
        ("ledger",),
        entries=sum(int(r["entries"]) for r in provision),
        recipients=len({r["recipient"] for r in provision}),
    )
    add(
        "collection",
        True,
        False,
        ("consent_gate",),
        status=measures.get("consent_gate", "off"),
    )
    overdue = sum(int(r["rows"]) for r in _rows(tables, "overdue"))
    deleted = sum(int(r["records"]) for r in _rows(tables, "deletions"))
    add("retention", True, overdue > 0, ("retention",), rows=overdue, deleted=deleted)
    incidents = _rows(tables, "incidents")
    still_open = sum(1 for r in incidents if r["status"] != "closed")
    add(
        "incidents",
        bool(incidents),
        still_open > 0,
        ("ledger",),
        total=len(incidents),
        open=still_open,
    )
    return out


def assess(
    home: DataHome,
    config: Config,
    year: int,
    *,
    assessment_id: str,
    as_of: str | None = None,
    tree_size: int | None = None,
) -> dict[str, Any]:
    """The assessment's data block (see the module docstring)."""
    report = collect(home, config, year, as_of=as_of, tree_size=tree_size)
    tables = {t: report["tables"][t] for t in (*TABLES, *SOURCES)}
    tables["risks"] = {
        "query": {
            "source": "derived",
            "what": "risks and measures from the tables important, exports, exports_use, "
            "refusals, provision, measures, overdue, deletions and incidents "
            "(onshore.report.risk.risks)",
        },
        "columns": RISK_COLUMNS,
        "rows": risks(tables),
    }
    return {
        "format": FORMAT,
        "id": assessment_id,
        "year": year,
        "as_of": report["as_of"],
        "due": due_date(year).isoformat(),
        "tz": report["tz"],
        "pack": report["pack"],
        "sth": report["sth"],
        "processor": report["processor"],
        "tables": tables,
    }


# -- documents ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Document:
    """One written document of an assessment."""

    lang: str
    fmt: str
    content: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass(frozen=True)
class Assessment:
    """A generated assessment: its data block, its documents and its ledger index."""

    id: str
    data: Mapping[str, Any]
    documents: tuple[Document, ...]
    digest: str
    ledger_index: int


def _context(data: Mapping[str, Any], lang: str) -> dict[str, Any]:
    words = labels(lang)
    doc = words["risk_doc"]
    tables = data["tables"]
    sections = []
    for key, ids in SECTIONS:
        views: list[TableView] = []
        for table_id, title in ids:
            view = table_view(table_id, tables[table_id], lang)
            views.append(replace(view, title=str(words.get(title) or doc.get(title, table_id))))
        sections.append((str(doc[key]), views))
    views = [table_view(tid, t, lang) for tid, t in sorted(tables.items())]
    return {
        "w": words,
        "d": doc,
        "lang": lang,
        "data": data,
        "p": data["processor"],
        "sections": sections,
        "appendix": views,
        "as_of": time_text(str(data["as_of"])),
        "sth": data["sth"],
        "block": embed_json(data),
    }


def render_assessment(data: Mapping[str, Any], lang: str, fmt: str) -> bytes:
    """The assessment's document in ``lang`` as ``fmt`` (a pure function of the block)."""
    if lang not in LANGS:
        raise BadInput(f"unknown language {lang!r} (one of: {', '.join(LANGS)})", field="lang")
    if fmt not in FORMATS:
        raise BadInput(f"unknown format {fmt!r} (one of: {', '.join(FORMATS)})", field="format")
    block = {**data, "render": {"lang": lang, "format": fmt}}
    if fmt == "pdf":
        html = render_text("risk.html.j2", _context(block, lang))
        return html_to_pdf(html, embed_json(block), str(data["as_of"]))
    return render_text(f"risk.{fmt}.j2", _context(block, lang)).encode("utf-8")


def new_id(year: int) -> str:
    """A fresh assessment id: ``RA-2026-1a2b3c4d``."""
    return f"RA-{year}-{secrets.token_hex(4)}"


def make_assessment(
    home: DataHome,
    config: Config,
    year: int,
    *,
    langs: Sequence[str] = ("zh", "en"),
    fmt: str = "html",
) -> Assessment:
    """Generate the assessment of ``year``, render it in each of ``langs`` and record it on
    the ledger (kind ``risk_assessment``) with its digest and each document's SHA-256."""
    if not langs:
        raise BadInput("at least one language is needed", field="lang")
    data = assess(home, config, year, assessment_id=new_id(year))
    documents = tuple(Document(lang, fmt, render_assessment(data, lang, fmt)) for lang in langs)
    block_digest = digest(data)
    important = next((r for r in _rows(data["tables"], "important") if r["rule"] == "*"), None)
    open_risks = sum(1 for r in data["tables"]["risks"]["rows"] if r[2] == "open")
    head = home.record(
        Activity.RISK_ASSESSMENT,
        purpose="risk_assessment",
        dataset="*",
        categories=sorted(
            r["category"] for r in _rows(data["tables"], "categories") if r["level"] == IMPORTANT
        ),
        counts={
            "important_records": int(important["records"]) if important else 0,
            "important_individuals": int(important["individuals"]) if important else 0,
            "open_risks": open_risks,
        },
        decision="assessed",
        reasons=sorted(
            str(r["rule"]) for r in _rows(data["tables"], "important") if r["rule"] != "*"
        ),
        details={
            "id": data["id"],
            "year": year,
            "as_of": data["as_of"],
            "due": data["due"],
            "digest": block_digest,
            "tree_size": data["sth"]["tree_size"] if data["sth"] else 0,
            "open_risks": open_risks,
            "documents": [
                {"lang": d.lang, "format": d.fmt, "sha256": d.sha256, "bytes": len(d.content)}
                for d in documents
            ],
        },
    )
    return Assessment(str(data["id"]), data, documents, block_digest, head.tree_size - 1)


def history(home: DataHome, year: int | None = None) -> list[dict[str, Any]]:
    """Every assessment on the ledger (of ``year`` when given), oldest first."""
    out = []
    for index, entry in home.ledger.entries(kind=Activity.RISK_ASSESSMENT):
        d = dict(entry.details)
        if year is not None and d.get("year") != year:
            continue
        out.append(
            {
                "index": index,
                "time": entry.time.isoformat().replace("+00:00", "Z"),
                "actor": entry.actor,
                "id": d.get("id"),
                "year": d.get("year"),
                "as_of": d.get("as_of"),
                "due": d.get("due"),
                "digest": d.get("digest"),
                "open_risks": d.get("open_risks"),
                "important_records": entry.counts.get("important_records", 0),
                "documents": d.get("documents", []),
            }
        )
    return out


def verify_assessment(home: DataHome, config: Config, content: bytes) -> VerifyResult:
    """Recompute an assessment document against the home, as ``report verify`` does a report:
    the signed tree head, every table, the digest recorded on the ledger for its id, and the
    visible document against the rendering of its block."""
    block = read_block(content)
    if block.get("format") != FORMAT:
        raise BadInput(f"not an {FORMAT} data block (format {block.get('format')!r})")
    head = sth_of(block)
    problems = head_problems(home, head)
    if problems:
        return VerifyResult((), tuple(problems))
    fresh = assess(
        home,
        config,
        int(block["year"]),
        assessment_id=str(block.get("id")),
        as_of=str(block["as_of"]),
        tree_size=head.tree_size if head is not None else 0,
    )
    for key in ("year", "as_of", "due", "tz", "pack", "sth", "processor"):
        if fresh.get(key) != block.get(key):
            problems.append(
                f"{key}: document says {block.get(key)!r}, home gives {fresh.get(key)!r}"
            )
    theirs: dict[str, Any] = block.get("tables", {})
    for table_id, table in fresh["tables"].items():
        problems.extend(compare_table(table_id, theirs.get(table_id), table))
    for table_id in sorted(set(theirs) - set(fresh["tables"])):
        problems.append(f"{table_id}: not a table of this assessment format")
    recorded = [h for h in history(home) if h["id"] == block.get("id")]
    if not recorded:
        problems.append(f"id: no assessment {block.get('id')!r} is recorded on the ledger")
    elif recorded[-1]["digest"] != digest(block):
        problems.append(f"digest: the ledger records another digest for {block.get('id')!r}")
    if not problems:
        problems.extend(_check_document(content, block))
    return VerifyResult(tuple(fresh["tables"]), tuple(problems))


def _check_document(content: bytes, block: Mapping[str, Any]) -> list[str]:
    meta = block.get("render") or {}
    lang, fmt = meta.get("lang", "zh"), meta.get("format", "html")
    if fmt not in FORMATS or lang not in LANGS:
        return [f"render: unknown language or format {meta!r}"]
    body = {k: v for k, v in block.items() if k != "render"}
    expected = render_assessment(body, lang, fmt)
    same = pdf_text(expected) == pdf_text(content) if fmt == "pdf" else expected == content
    return [] if same else ["document: the text differs from the rendering of its figures"]
