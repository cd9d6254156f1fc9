"""Render the report's data block as Markdown or HTML (Jinja2 templates), Chinese or English.

The document is a pure function of the data block, the language and the format, so
``onshore report verify`` can render it again and compare.

Every value a template prints is data, never markup: HTML templates (``*.html.j2``) are
autoescaped, Markdown templates (``*.md.j2``) backslash-escape Markdown's punctuation and the
characters of inline HTML (:func:`md_escape`). Only values the code marks as :class:`Markup`
(the charts, drawn from escaped text, and the data block, serialized for its place) go out as
they are. The data block itself is embedded in
every format: a ``<script type="application/json">`` element in HTML, a fenced ``json`` block in
Markdown, a file attachment in PDF (:mod:`onshore.report.pdf`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml
from markupsafe import Markup

from onshore.errors import BadInput
from onshore.report.charts import horizontal_bars, stacked_bars
from onshore.report.figures import gaps
from onshore.report.queries import describe

LANGS = ("zh", "en")
FORMATS = ("html", "md", "pdf")
HTML_BLOCK = re.compile(
    r'<script type="application/json" id="onshore-report-data">(.*?)</script>', re.DOTALL
)
MD_MARKER = "<!-- onshore-report-data -->"
MD_BLOCK = re.compile(re.escape(MD_MARKER) + r"\n```json\n(.*?)\n```", re.DOTALL)
SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("s2", ("collection", "necessity", "scale", "categories", "important")),
    (
        "s3",
        (
            "stores",
            "retention",
            "deletions",
            "overdue",
            "measures",
            "risk_assessment",
            "subject_requests",
        ),
    ),
    ("s4", ("provision",)),
    ("s5", ("incidents",)),
    ("s6", ("complaints",)),
)
TABLE_TITLES = {
    "collection": "s2_collection",
    "necessity": "s2_necessity",
    "risk_assessment": "s3_risk_assessment",
    "exports_use": "s7_use",
    "scale": "s2_scale",
    "categories": "s2_categories",
    "important": "s2_important",
    "deletions": "s3_deletions",
    "overdue": "s3_overdue",
    "exported_individuals": "s7_individuals",
    "stores": "s3_stores",
    "retention": "s3_retention",
    "measures": "s3_measures",
    "subject_requests": "s3_subject_requests",
    "export_mechanisms": "s7_mechanisms",
    "refusals": "s7_refusals",
}


TOTAL_COLUMNS = ("dataset", "recipient", "rule")
#: what a transfer request declares of the use abroad (Art. 14): shown as "not declared" when empty
DECLARED_COLUMNS = (
    "recipient_contact",
    "storage_location",
    "storage_period",
    "scope_of_use",
    "manner_of_use",
)
#: columns whose values are enum keys, and the labels group that words them
CELL_WORDS = (
    ("level", "levels"),
    ("measure", "measures"),
    ("status", "statuses"),
    ("role", "roles"),
    ("purpose", "purposes"),
    ("mechanism", "mechanisms"),
    ("access_mode", "access_modes"),
    ("country", "countries"),
    ("jurisdiction", "countries"),
    ("severity", "severities"),
    ("channel", "channels"),
    ("kind", "kinds"),
    ("rule", "rules"),
    ("basis", "basis_kinds"),
    ("risk", "risks"),
    ("risk_level", "risk_levels"),
    ("risk_status", "risk_statuses"),
)


@cache
def labels(lang: str) -> dict[str, Any]:
    """The words of ``lang`` (English fills any gap in Chinese)."""
    if lang not in LANGS:
        raise BadInput(f"unknown language {lang!r} (one of: {', '.join(LANGS)})", field="lang")
    text = resources.files("onshore.report").joinpath("templates/labels.yaml").read_text("utf-8")
    raw = yaml.safe_load(text)
    return {**raw["en"], **raw[lang]}


@dataclass(frozen=True)
class TableView:
    """A table ready to print: title, headers and cells as text, and its query."""

    id: str
    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: tuple[bool, ...]
    query: str


def category_name(key: str, lang: str) -> str:
    """``行踪轨迹`` in Chinese (a key without its own name: its nearest named ancestor's name);
    the key itself in English.

    >>> category_name("location.trajectory", "zh"), category_name("location.trajectory", "en")
    ('行踪轨迹', 'location.trajectory')
    """
    names = labels(lang).get("categories") or {}
    probe: str | None = key
    while probe:
        if probe in names:
            return str(names[probe])
        probe = probe.rpartition(".")[0] or None
    return key


_EXPORTED = re.compile(r"^exported under (\w+)$")
_REFUSED = re.compile(r"^transfer refused: (\w+)$")


def word(group: str, value: str, lang: str) -> str:
    """``value`` in ``lang`` from the labels' ``group`` (the value itself when not listed)."""
    return str((labels(lang).get(group) or {}).get(value, value))


def dataset_name(value: str) -> str:
    """A dataset as the report names it: a file dataset by its file name, never its path."""
    return value.replace("\\", "/").rsplit("/", 1)[-1] if "/" in value or "\\" in value else value


def decision_text(value: str, lang: str) -> str:
    """A ledger decision (``exported under standard_contract_or_certification``) in words."""
    words = labels(lang)
    for pattern, key in ((_EXPORTED, "exported_under"), (_REFUSED, "refused_under")):
        match = pattern.match(value)
        if match:
            return str(words[key]).format(mechanism=word("mechanisms", match.group(1), lang))
    return word("decisions", value, lang)


_ISO_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(:\d{2}(\.\d+)?)?Z$")


def time_text(value: str) -> str:
    """A stored UTC time as a reader writes it: ``2026-12-06 00:49 UTC``.

    >>> time_text("2026-12-06T00:49:11.077Z")
    '2026-12-06 00:49 UTC'
    """
    match = _ISO_TIME.match(value)
    return f"{match.group(1)} {match.group(2)} UTC" if match else value


_ARTICLE = re.compile(r"^Art\. (\d+)")
_ANNEX = re.compile(r"^Annex ([A-Z])")


def citation(value: Mapping[str, Any], lang: str) -> str:
    """A legal reference: ``汽车数据安全管理若干规定（试行）第3条`` in Chinese (the instrument's
    Chinese title and the article number); title and article in English."""
    article = str(value.get("article") or "")
    if lang != "zh":
        return f"{value.get('title')}, {article}"
    title = str(
        value.get("title_zh")
        or word("instruments", str(value.get("instrument")), lang)
        or value.get("title")
    )
    match = _ARTICLE.match(article)
    if match:
        return f"{title}第{match.group(1)}条"
    match = _ANNEX.match(article)
    if match:
        return f"{title}附录{match.group(1)}"
    if article.startswith("§"):
        return f"{title}{article.split(' ')[0]}"
    return title


def evidence_text(value: Mapping[str, Any], lang: str, *, group: str = "evidence") -> str:
    """A measure's evidence (``{"key": …, values}``) worded in ``lang`` (from the labels'
    ``group``)."""
    template = (labels(lang).get(group) or {}).get(str(value.get("key")))
    if template is None:
        return ", ".join(f"{k}={v}" for k, v in sorted(value.items()) if k != "key")
    fields = {k: (f"{v:,}" if isinstance(v, int) else v) for k, v in value.items()}
    if "level" in fields:
        fields["level"] = word("levels", str(fields["level"]), lang)
    if "status" in fields:
        fields["status"] = word("statuses", str(fields["status"]), lang)
    return str(template).format(**fields)


def gap_text(key: str, values: Mapping[str, Any], lang: str) -> str:
    """One gap (:func:`onshore.report.figures.gaps`) worded in ``lang``."""
    fields = dict(values)
    for name, group in (("measure", "measures"), ("kind", "kinds"), ("purpose", "purposes")):
        if name in fields:
            fields[name] = word(group, str(fields[name]), lang)
    if isinstance(fields.get("fields"), list):
        sep = "、" if lang == "zh" else ", "
        fields["fields"] = sep.join(word("cols", str(f), lang) for f in fields["fields"])
    if "status" in fields:
        fields["status"] = word("statuses", str(fields["status"]), lang)
    for name in ("rows", "n", "assessed"):
        if isinstance(fields.get(name), int):
            fields[name] = f"{fields[name]:,}"
    return str(labels(lang)["gaps"][key]).format(**fields)


def basis_text(value: Mapping[str, Any], lang: str) -> str:
    """A legal basis's statement of necessity: the Chinese words for its id, else the pack's
    own description."""
    return str((labels(lang).get("basis_rules") or {}).get(str(value.get("id")), value.get("text")))


def _cell(column: str, value: Any, lang: str) -> str:
    words = labels(lang)
    if (value is None or value == "") and (column in DECLARED_COLUMNS or column == "necessity"):
        return str(words["not_declared"])
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return str(words["answer_yes"] if value else words["answer_no"])
    if isinstance(value, int):
        return f"{value:,}"
    if column == "evidence" and isinstance(value, dict):
        return evidence_text(value, lang)
    if column == "risk_evidence" and isinstance(value, dict):
        return evidence_text(value, lang, group="risk_evidence")
    if column == "legal_ref" and isinstance(value, dict):
        return citation(value, lang)
    if column == "necessity" and isinstance(value, dict):
        return basis_text(value, lang)
    text = str(value)
    if _ISO_TIME.match(text):
        return time_text(text)
    if text == "*":
        return str(words["total"] if column in TOTAL_COLUMNS else words["all"])
    if column in ("category", "categories", "category_root"):
        return "; ".join(category_name(k.strip(), lang) for k in text.split(","))
    if column in ("dataset", "datasets"):
        return ", ".join(dataset_name(k.strip()) for k in text.split(","))
    if column == "decision":
        return decision_text(text, lang)
    if column == "measures":
        sep = "、" if lang == "zh" else ", "
        return sep.join(word("measures", k.strip(), lang) for k in text.split(","))
    if column == "area_kinds":
        sep = "、" if lang == "zh" else ", "
        return sep.join(word("area_kinds", k.strip(), lang) for k in text.split(","))
    for name, group in CELL_WORDS:
        if column == name:
            return word(group, text, lang)
    if column == "name" and text == "(not configured)":
        return str(words["not_configured"])
    return text


def table_view(table_id: str, table: Mapping[str, Any], lang: str) -> TableView:
    words = labels(lang)
    columns: Sequence[str] = table["columns"]
    rows = tuple(
        tuple(_cell(c, v, lang) for c, v in zip(columns, row, strict=True)) for row in table["rows"]
    )
    numeric = tuple(
        all(isinstance(r[i], int) and not isinstance(r[i], bool) for r in table["rows"])
        and bool(table["rows"])
        for i in range(len(columns))
    )
    title = str(words.get(TABLE_TITLES.get(table_id, ""), table_id))
    headers = tuple(str(words["cols"].get(c, c)) for c in columns)
    return TableView(table_id, title, headers, rows, numeric, describe(table["query"]))


def filing_warnings(data: Mapping[str, Any], lang: str) -> list[str]:
    """What keeps the report from being filed as is: lateness, missing configuration."""
    words = labels(lang)
    out = []
    as_of = dt.datetime.fromisoformat(str(data["as_of"]).replace("Z", "+00:00"))
    sign = -1 if data["tz"].startswith("-") else 1
    hh, mm = data["tz"][1:].split(":")
    local = (as_of + sign * dt.timedelta(hours=int(hh), minutes=int(mm))).date()
    if local > dt.date(int(data["year"]), 12, 15):
        out.append(str(words["late_warning"]))
    if not data["processor"]["configured"]:
        out.append(str(words["unconfigured_warning"]))
    out.extend(gap_text(key, values, lang) for key, values in gaps(data))
    return out


def charts(data: Mapping[str, Any], lang: str) -> list[str]:
    """The SVG charts: volume by category over the year; exports by destination and mechanism."""
    words = labels(lang)
    volume = [tuple(r) for r in data["tables"]["volume_by_month"]["rows"]]
    out = []
    if volume:
        out.append(
            stacked_bars(
                volume,
                title=str(words["chart_volume"]),
                label=lambda k: word("levels", k, lang),
            )
        )
    exports = data["tables"]["export_mechanisms"]["rows"]
    if exports:
        bars = [
            (
                " · ".join(
                    (
                        word("countries", str(r[0]), lang),
                        word("mechanisms", str(r[1]), lang),
                        word("access_modes", str(r[2]), lang),
                    )
                ),
                int(r[3]),
            )
            for r in exports
        ]
        out.append(horizontal_bars(bars, title=str(words["chart_exports"])))
    return out


def context(data: Mapping[str, Any], lang: str) -> dict[str, Any]:
    """Everything a template needs."""
    words = labels(lang)
    tables = data["tables"]
    views = {tid: table_view(tid, t, lang) for tid, t in tables.items()}
    exported = bool(tables["exports"]["rows"] or tables["export_mechanisms"]["rows"])
    return {
        "w": words,
        "lang": lang,
        "data": data,
        "p": data["processor"],
        "contacts": views["contacts"],
        "sections": [(str(words[key]), [views[t] for t in ids]) for key, ids in SECTIONS],
        "exported": exported,
        "exports": [
            views["exports"],
            views["exports_use"],
            views["exported_individuals"],
            views["export_mechanisms"],
            views["refusals"],
        ],
        # Sorted by id: the data block is embedded with sorted keys, so a rendering from the
        # block read back must list the tables in the same order as the first one.
        "appendix": [views[tid] for tid in sorted(views)],
        "warnings": filing_warnings(data, lang),
        "as_of": time_text(str(data["as_of"])),
        "charts": charts(data, lang),
        "sth": data["sth"],
        "block": embed_json(data),
    }


def embed_json(data: Mapping[str, Any]) -> Markup:
    """The data block as compact JSON that is safe inside a ``<script>`` element (and a
    Markdown code fence): ``<``, ``>`` and ``&`` are written as JSON escapes, so no text in it
    can close the element, open a comment or start a tag."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    for char, escape in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e")):
        text = text.replace(char, escape)
    return Markup(text)


_MD_SPECIAL = re.compile(r"([\\`*\[\]<>|!&~{}#]|(?<!\w)_|_(?!\w))")


def md_escape(value: Any) -> str:
    """``value`` as Markdown text that renders as itself: punctuation that could start
    emphasis, a link, code, a table cell or inline HTML is backslash-escaped; line breaks
    become spaces (a table row is one line). :class:`Markup` passes unchanged.

    >>> md_escape('<img src=x onerror=alert(1)> [a](javascript:x) | *b*')
    '\\\\<img src=x onerror=alert(1)\\\\> \\\\[a\\\\](javascript:x) \\\\| \\\\*b\\\\*'
    >>> md_escape("national_monitoring")
    'national_monitoring'
    """
    if isinstance(value, Markup):
        return str(value)
    text = "" if value is None else str(value)
    text = " ".join(text.splitlines()) if ("\n" in text or "\r" in text) else text
    return _MD_SPECIAL.sub(r"\\\1", text)


class CodeSpan(str):
    """Text for a Markdown code span (the ``code`` filter): shown literally there; an HTML
    template escapes it as any other text."""

    __slots__ = ()


def md_code(value: Any) -> CodeSpan:
    """``value`` for a Markdown code span: backticks (which would end it) and line breaks go;
    nothing else is interpreted inside a code span."""
    return CodeSpan(" ".join(str(value).splitlines()).replace("`", "'"))


@cache
def _env() -> Any:
    try:
        import jinja2
    except ImportError as exc:
        raise BadInput("the report needs Jinja2: pip install 'onshore[report]'") from exc

    @jinja2.pass_eval_context
    def finalize(eval_ctx: Any, value: Any) -> Any:
        # HTML templates are autoescaped (after this); Markdown ones are escaped here.
        if eval_ctx.autoescape:
            return value
        return str(value) if isinstance(value, CodeSpan) else md_escape(value)

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("onshore.report", "templates"),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html", "htm", "xml", "html.j2", "htm.j2", "xml.j2"),
            disabled_extensions=("md", "md.j2"),
            default=True,
        ),
        finalize=finalize,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["code"] = md_code
    return env


def autoescaped(template: str) -> bool:
    """Whether ``template`` is rendered with HTML autoescaping (else Markdown escaping)."""
    return bool(_env().autoescape(template))


def templates() -> list[str]:
    """Every template this package renders."""
    return sorted(_env().list_templates(extensions=("j2",)))


def render_text(template: str, ctx: Mapping[str, Any]) -> str:
    return str(_env().get_template(template).render(**ctx))


def render(data: Mapping[str, Any], lang: str, fmt: str) -> str:
    """The report as Markdown or HTML text (the PDF is rendered from the HTML)."""
    if fmt not in ("html", "md"):
        raise BadInput(f"text formats are html and md, not {fmt!r}", field="format")
    return render_text(f"report.{fmt}.j2", context(data, lang))


def extract_block(text: str) -> dict[str, Any]:
    """The data block of an HTML or Markdown report."""
    match = HTML_BLOCK.search(text) or MD_BLOCK.search(text)
    if match is None:
        raise BadInput("no Onshore report data block in this file")
    try:
        block = json.loads(match.group(1))
    except json.JSONDecodeError as exc:
        raise BadInput(f"the report's data block is not valid JSON: {exc}") from exc
    if not isinstance(block, dict):
        raise BadInput("the report's data block is not a JSON object")
    return block
