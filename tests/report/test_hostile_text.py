"""Text from clients is data, never markup, in every template and format Onshore renders.

Hostile values go in where they enter in real use (a transfer request's recipient and purpose,
ledger entries' purposes and dataset names, incidents and complaints, the processor's
configuration); every template of :func:`onshore.report.render.templates` is then rendered
(a new template fails :func:`test_every_template_is_attacked` until it is added here), and the
output is parsed: no element, attribute, link or Markdown construct comes from the values.
The PDF embeds no file of the server, whatever link its HTML holds.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from onshore.classify.vin import vin_check_char
from onshore.config import load_config
from onshore.ledger import Activity
from onshore.pipeline import ingest
from onshore.report import Register, build_report, render_notice, verify_document
from onshore.report.render import md_escape, templates
from onshore.store import DataHome
from onshore.transfer.execute import TransferGate
from onshore.transfer.models import Recipient, TransferRequest, UseAbroad

SECRET = "ONSHORE-SECRET-7f3a9c"
ATTACK = (
    '<link rel="attachment" href="file://{path}"><img src=x onerror=alert(1)>'
    "<script>alert(2)</script><svg onload=alert(3)></svg>"
    '<a href="javascript:alert(4)">a</a> [md](javascript:alert(5)) ![i](file://{path}) '
    "| *em* `code` <!-- c --> &amp; </td></tr></table>"
)
RENDERED: set[str] = set()
DANGEROUS_TAGS = {"img", "link", "iframe", "object", "embed", "base", "form", "a", "svg"}


def _vin(i: int) -> str:
    body = f"LSVAB2180N{i:07d}"
    return body[:8] + vin_check_char(body) + body[9:]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    base = tmp_path_factory.mktemp("hostile")
    secret = base / "secret.key"
    secret.write_text(SECRET)
    attack = ATTACK.format(path=secret)
    name = json.dumps(attack)[1:-1]  # YAML-safe in a double-quoted scalar
    (base / "home").mkdir()
    home = base / "home"
    (home / "config.yaml").write_text(
        "processor:\n"
        f'  legal_entity: "{name}"\n'
        "  ciio: false\n"
        f'  province: "{name}"\n'
        f'  responsible_person: {{name: "{name}", email: "{name}"}}\n'
        f'  user_rights_contact: {{name: "{name}", phone: "{name}"}}\n'
    )
    n = 20
    table = pa.table(
        {
            "vin": [_vin(i % 5) for i in range(n)],
            "ts": pa.array(
                [dt.datetime(2026, 11, 2, 8, 0, i, tzinfo=dt.UTC) for i in range(n)],
                pa.timestamp("ms", "UTC"),
            ),
            "lat": [39.9 + i * 1e-4 for i in range(n)],
            "lon": [116.4 + i * 1e-4 for i in range(n)],
            "speed_kmh": [30.0 + i for i in range(n)],
        }
    )
    pq.write_table(table, base / "trips.parquet")
    pq.write_table(table.select(["vin", "ts", "speed_kmh"]), base / "speeds.parquet")
    with DataHome(home) as h:
        ingest(h, base / "trips.parquet", dataset="trips", purpose="national_monitoring")
        # what a client once sent (before the service checked text where it enters)
        h.actor = attack
        h.record(Activity.VIEW, purpose=attack, dataset=attack, decision="read")
        h.record(Activity.POLICY_REFUSAL, purpose=attack, dataset=attack, decision=attack)
        request = TransferRequest(
            dataset=str(base / "speeds.parquet"),
            recipient=Recipient("Acme " + attack[:150].replace("\n", " "), "DE", attack[:150]),
            purpose="warranty " + attack[:150],
            access_mode="push",
            impact_assessment="PIPIA-" + attack[:100],
            outbound_basis="contract",
            outbound_basis_note=attack[:150],
            use=UseAbroad(*(attack[:150] for _ in range(5))),  # Art. 14 declarations
        )
        outcome = TransferGate(h, load_config(None, home=home)).run(
            request, dataset_name=attack[:190]
        )
        assert outcome.decision.allowed, outcome.decision
        register = Register(h)
        inc = register.add_incident(attack, severity="large", affected=5, handling=attack)
        register.update_incident(inc.id, status="closed", handling=attack)
        register.add_complaint(attack, channel="app", vin=_vin(1))
    return home, attack


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _check_html(text: str) -> None:
    parser = _Tags()
    parser.feed(text)
    svg = False
    for tag, attrs in parser.tags:
        svg = svg or tag == "svg"
        assert not [a for a in attrs if a.startswith("on")], (tag, attrs)
        if tag == "script":
            assert attrs.get("type") == "application/json", attrs
        if tag == "svg":
            continue  # the report's own charts, drawn from escaped text (checked below)
        assert tag not in DANGEROUS_TAGS, (tag, attrs)
        for value in attrs.values():
            assert not (value or "").lower().startswith(("javascript:", "file:")), (tag, attrs)
    scripts = [t for t, _a in parser.tags if t == "script"]
    assert len(scripts) <= 1
    # the values are there, as text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text


def _check_md(text: str) -> None:
    marker = text.find("<!-- onshore-report-data -->")
    visible = text if marker < 0 else text[:marker]
    for construct in (
        "<img",
        "<script",
        "<svg",
        "<link",
        "<a ",
        "](javascript:",
        "](file:",
        "<!--",
    ):
        for found in re.finditer(re.escape(construct), visible):
            # every markup character of a value is escaped with a backslash
            before = visible[found.start() - 1] if found.start() else ""
            assert before == "\\", (construct, visible[max(0, found.start() - 60) : found.end()])
    assert md_escape("<img src=x onerror=alert(1)>") in visible


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("fmt", ["html", "md"])
def test_report_text_is_escaped(hostile: tuple[Path, str], lang: str, fmt: str) -> None:
    home, _attack = hostile
    with DataHome(home) as h:
        config = load_config(None, home=home)
        built = build_report(h, config, 2026, lang=lang, fmt=fmt)
        assert verify_document(h, config, built.content).ok  # escaped, and still verifiable
    text = built.content.decode("utf-8")
    (_check_html if fmt == "html" else _check_md)(text)
    RENDERED.add(f"report.{fmt}.j2")


@pytest.mark.parametrize("fmt", ["html", "md"])
def test_risk_assessment_text_is_escaped(hostile: tuple[Path, str], fmt: str) -> None:
    from onshore.report.risk import make_assessment, verify_assessment

    home, _attack = hostile
    with DataHome(home) as h:
        config = load_config(None, home=home)
        made = make_assessment(h, config, 2026, langs=("zh", "en"), fmt=fmt)
        for document in made.documents:
            assert verify_assessment(h, config, document.content).ok
    for document in made.documents:
        text = document.content.decode("utf-8")
        (_check_html if fmt == "html" else _check_md)(text)
    RENDERED.add(f"risk.{fmt}.j2")


@pytest.mark.parametrize("fmt", ["html", "md"])
def test_notice_text_is_escaped(hostile: tuple[Path, str], fmt: str) -> None:
    home, _attack = hostile
    with DataHome(home) as h:
        text = render_notice(h, load_config(None, home=home), lang="zh", fmt=fmt)
    (_check_html if fmt == "html" else _check_md)(text)
    RENDERED.add(f"notice.{fmt}.j2")


def test_every_template_is_attacked() -> None:
    """Runs last in this module: every template was rendered with hostile values above."""
    assert set(templates()) == RENDERED


def _pdf_or_skip() -> None:
    pytest.importorskip("weasyprint")
    pytest.importorskip("pypdf")


def test_the_pdf_report_embeds_no_server_file(hostile: tuple[Path, str]) -> None:
    _pdf_or_skip()
    from pypdf import PdfReader

    from onshore.report.pdf import ATTACHMENT

    home, _attack = hostile
    with DataHome(home) as h:
        built = build_report(h, load_config(None, home=home), 2026, lang="en", fmt="pdf")
    reader = PdfReader(__import__("io").BytesIO(built.content))
    assert list(reader.attachments) == [ATTACHMENT]
    assert SECRET.encode() not in built.content
    for page in reader.pages:
        assert not list(page.images)


def test_the_typesetter_fetches_no_file_whatever_the_html_says(tmp_path: Path) -> None:
    """Defence in depth: even raw HTML with file links (were escaping ever lost) embeds
    nothing; a ``data:`` image, the only kind of resource allowed, still works."""
    _pdf_or_skip()
    from pypdf import PdfReader

    from onshore.report.pdf import ATTACHMENT, html_to_pdf

    secret = tmp_path / "ledger.key"
    secret.write_text(SECRET)
    png = tmp_path / "x.png"
    png.write_bytes(
        bytes.fromhex(
            "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
            "1f15c4890000000d49444154789c6360606060000000050001a5f645400000000049454e44ae426082"
        )
    )
    import base64

    data_png = "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode()
    html = (
        f'<html><head><link rel="attachment" href="file://{secret}">'
        f'<link rel="stylesheet" href="file://{secret}"></head><body>'
        f'<a rel="attachment" href="file://{secret}">key</a>'
        f'<img src="file://{png}"><img src="http://127.0.0.1:9/x.png">'
        f'<img src="{data_png}"><p>text</p></body></html>'
    )
    pdf = html_to_pdf(html, "{}", "2026-12-01T00:00:00Z")
    reader = PdfReader(__import__("io").BytesIO(pdf))
    assert list(reader.attachments) == [ATTACHMENT]
    assert SECRET.encode() not in pdf
    assert sum(len(list(p.images)) for p in reader.pages) == 1  # the data: image only
