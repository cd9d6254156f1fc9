"""The annual report and the notice, built from a real data home, and their verification."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from onshore.classify.vin import vin_check_char
from onshore.config import load_config
from onshore.pipeline import ingest
from onshore.report import (
    Register,
    build_report,
    missing_to_file,
    notice_items,
    render_notice,
    verify_document,
)
from onshore.report.annual import read_block
from onshore.report.render import category_name
from onshore.store import DataHome
from onshore.transfer.execute import TransferGate, read_request

CONFIG = """\
processor:
  legal_entity: Demo Auto Co., Ltd.
  ciio: false
  province: Beijing
  responsible_person: {name: Wang Fang, email: dpo@example.cn}
  user_rights_contact: {name: Li Lei, phone: "400-000-0000"}
"""


def _vin(i: int) -> str:
    body = f"LSVAB2180N{i:07d}"
    return body[:8] + vin_check_char(body) + body[9:]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with stored telemetry, an export to Germany, an incident and a complaint."""
    base = tmp_path_factory.mktemp("report")
    n = 60
    table = pa.table(
        {
            "vin": [_vin(i % 20) for i in range(n)],
            "ts": pa.array(
                [dt.datetime(2026, 11, 2, 8, i // 60, i % 60, tzinfo=dt.UTC) for i in range(n)],
                pa.timestamp("ms", "UTC"),
            ),
            "lat": [39.9 + i * 1e-4 for i in range(n)],
            "lon": [116.4 + i * 1e-4 for i in range(n)],
            "speed_kmh": [30.0 + i for i in range(n)],
        }
    )
    pq.write_table(table, base / "trips.parquet")
    # what goes abroad: speeds of 20 vehicles (personal data of under 100,000 people: no mechanism)
    pq.write_table(table.select(["vin", "ts", "speed_kmh"]), base / "speeds.parquet")
    (base / "request.json").write_text(
        json.dumps(
            {
                "dataset": "speeds.parquet",
                "purpose": "warranty analytics",
                "recipient": {"name": "Acme GmbH", "country": "DE", "contact": "dpo@acme.example"},
                # PIPL Arts. 39 and 55 (issue 18): a documented basis and an impact assessment
                "impact_assessment": "PIPIA-2026-07",
                "outbound_basis": "contract",
                "outbound_basis_note": "warranty service contract with the owner",
                # Provisions 2021 Art. 14 (issue 18 item 12): what the report states per export
                "storage_location": "Frankfurt am Main",
                "storage_period": "3 years",
                "scope_of_use": "warranty claims of the exported vehicles",
                "manner_of_use": "statistics by model",
                "necessity": "the warranty is handled by the maker in Germany",
            }
        )
    )
    path = base / "home"
    path.mkdir()
    (path / "config.yaml").write_text(CONFIG)
    with DataHome(path) as h:
        ingest(h, base / "trips.parquet", dataset="trips", purpose="national_monitoring")
        outcome = TransferGate(h, load_config(None, home=path)).run(
            read_request(base / "request.json")
        )
        assert outcome.decision.allowed, outcome.decision
        register = Register(h)
        inc = register.add_incident(
            "Telematics bucket briefly public",
            severity="large",
            categories=["location.trajectory"],
            affected=20,
        )
        register.update_incident(inc.id, status="closed", handling="bucket closed, keys rotated")
        register.add_complaint("Why is my location collected?", channel="app", vin=_vin(3))
    return path


def _report(home: Path, lang: str, fmt: str, **kw: str) -> tuple[bytes, dict]:  # type: ignore[type-arg]
    with DataHome(home) as h:
        built = build_report(h, load_config(None, home=home), 2026, lang=lang, fmt=fmt, **kw)
    return built.content, dict(built.data)


def _verify(home: Path, content: bytes) -> tuple[str, ...]:
    with DataHome(home) as h:
        return verify_document(h, load_config(None, home=home), content).problems


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("fmt", ["md", "html"])
def test_report_figures_come_from_the_home_and_verify(home: Path, lang: str, fmt: str) -> None:
    content, data = _report(home, lang, fmt)
    tables = data["tables"]
    # scale: 60 rows of 20 vehicles stored this year (the last row is the total)
    assert tables["scale"]["rows"][-1] == ["*", 60, 20, 20]
    (export,) = tables["exports"]["rows"]
    assert "Acme GmbH" in export and "DE" in export
    assert [r[0] for r in tables["export_mechanisms"]["rows"]] == ["DE"]
    (incident,) = tables["incidents"]["rows"]
    assert incident[4] == "closed"
    (complaint,) = tables["complaints"]["rows"]
    assert complaint[4] == "received"
    text = content.decode("utf-8")
    assert ("汽车数据安全管理情况年度报告" if lang == "zh" else "Annual report") in text
    assert "Demo Auto Co., Ltd." in text and "Acme GmbH" in text
    assert data["sth"]["tree_size"] > 0
    assert _verify(home, content) == ()
    # Art. 14: the recipient's contact, storage abroad, scope and manner of use, necessity
    (use,) = tables["exports_use"]["rows"]
    assert use[:4] == ["Acme GmbH", "DE", "dpo@acme.example", "warranty analytics"]
    assert use[4:] == [
        "Frankfurt am Main",
        "3 years",
        "warranty claims of the exported vehicles",
        "statistics by model",
        "the warranty is handled by the maker in Germany",
        1,
    ]
    assert "Frankfurt am Main" in text and "dpo@acme.example" in text
    assert ("境外保存地点" if lang == "zh" else "Overseas storage location") in text
    # Art. 13(2): the necessity of processing, by dataset and purpose, from the bases applied
    necessity = tables["necessity"]["rows"]
    assert ["trips", "national_monitoring", "legal_obligation"] in [r[:3] for r in necessity]
    words = "履行法定职责或者法定义务所必需" if lang == "zh" else "legal duty"
    assert words in text


def test_html_has_the_charts_as_svg(home: Path) -> None:
    content, _ = _report(home, "zh", "html")
    svgs = re.findall(rb"<svg[^>]*>.*?</svg>", content, re.DOTALL)
    assert len(svgs) == 2  # volume by row level, exports by destination and mechanism
    # the destination is named in the report's language (it was "DE", cut off at the left)
    assert "德国".encode() in svgs[1] and b'text-anchor="end"' not in svgs[1]


def test_a_changed_figure_fails_verification(home: Path) -> None:
    content, _ = _report(home, "en", "md")
    block = read_block(content)
    block["tables"]["scale"]["rows"][-1][1] = 59
    start = content.index(b"```json\n") + len(b"```json\n")
    end = content.index(b"\n```", start)
    forged = content[:start] + json.dumps(block, sort_keys=True).encode() + content[end:]
    problems = _verify(home, forged)
    assert problems and problems[0].startswith("scale: row")
    # the visible text alone changed: the document no longer renders from its figures
    visible = content.replace(b"Demo Auto Co., Ltd.", b"Other Auto Co., Ltd.", 1)
    assert any(p.startswith("document:") for p in _verify(home, visible))


def test_a_later_entry_does_not_break_an_earlier_report(home: Path, tmp_path: Path) -> None:
    """The report pins the ledger prefix and the time: later activity leaves it verifiable."""
    copy = tmp_path / "home"
    shutil.copytree(home, copy)
    content, data = _report(copy, "en", "html")
    with DataHome(copy) as h:
        Register(h).add_incident("Another one", severity="general")
    assert _verify(copy, content) == ()
    _, fresh = _report(copy, "en", "html")
    assert len(fresh["tables"]["incidents"]["rows"]) == 2
    assert fresh["sth"]["tree_size"] > data["sth"]["tree_size"]


def test_a_report_after_15_december_is_flagged(home: Path) -> None:
    content, _ = _report(home, "en", "md", as_of="2026-12-20T02:00:00.000Z")
    assert b"the filing deadline has passed" in content
    content, _ = _report(home, "en", "md", as_of="2026-12-10T02:00:00.000Z")
    assert b"the filing deadline has passed" not in content


def test_due_lists_what_is_missing(home: Path, tmp_path: Path) -> None:
    with DataHome(home) as h:
        missing = missing_to_file(h, load_config(None, home=home), 2026)
    assert any(m.startswith("complaint cmp-") for m in missing)
    assert not any("not configured" in m for m in missing)
    with DataHome(tmp_path / "empty") as h:
        missing = missing_to_file(h, load_config(None, home=tmp_path / "empty"), 2026)
    assert "processor.legal_entity is not configured (HOME/config.yaml)" in missing
    assert "the ledger is empty: nothing was recorded to report" in missing


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_notice_covers_every_personal_category(home: Path, lang: str) -> None:
    with DataHome(home) as h:
        html = render_notice(h, load_config(None, home=home), lang=lang, fmt="html")
        md = render_notice(h, load_config(None, home=home), lang=lang, fmt="md")
        items = notice_items(h)
    assert "Li Lei" in html and "400-000-0000" in html and "Li Lei" in md
    assert "10" in md  # deletion within 10 working days
    assert {i.category for i in items} >= {"location.trajectory", "cabin.audio"}
    table = md.split("\n## ", 1)[0]  # the first table: the types of personal information
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) == len(items) + 1  # a header and one row per category
    for item in items:
        assert category_name(item.category, lang) in md
    assert ("行踪轨迹" if lang == "zh" else "location.trajectory") in md


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "onshore", *args], capture_output=True, text=True, cwd=cwd
    )


def test_cli_report_verify_and_tamper_exit_3(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    proc = _cli("report", "--year", "2026", "--format", "html", "--out", str(out),
                "--home", str(home), "--json", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["path"] == str(out) and summary["tables"]["exports"] == 1
    proc = _cli("report", "verify", str(out), "--home", str(home), cwd=tmp_path)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr
    out.write_bytes(out.read_bytes().replace(b"Acme GmbH", b"Acme AG"))
    proc = _cli("report", "verify", str(out), "--home", str(home), cwd=tmp_path)
    assert proc.returncode == 3 and "mismatch" in proc.stderr


def test_cli_incident_and_complaint_reach_the_ledger(tmp_path: Path) -> None:
    home = ["--home", str(tmp_path / "h")]
    proc = _cli("incident", "add", "Lost laptop", "--severity", "major", "--json", *home,
                cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    incident = json.loads(proc.stdout)
    opened = dt.datetime.fromisoformat(incident["opened_at"].replace("Z", "+00:00"))
    deadline = dt.datetime.fromisoformat(incident["report_deadline"].replace("Z", "+00:00"))
    assert deadline - opened == dt.timedelta(hours=1)
    proc = _cli("complaint", "add", "Delete my data", "--sla-days", "10", "--json", *home,
                cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"] == "received"
    proc = _cli("incident", "add", "x", "--category", "no.such", *home, cwd=tmp_path)
    assert proc.returncode == 2 and "no.such" in proc.stderr
    proc = _cli("ledger", "verify", "--json", *home, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    with DataHome(tmp_path / "h") as h:
        kinds = [str(e.kind) for _i, e in h.ledger.entries()]
    assert kinds.count("incident") == 1 and kinds.count("complaint") == 1


@pytest.mark.slow
def test_pdf_in_chinese_typesets_with_a_cjk_font_and_verifies(home: Path, tmp_path: Path) -> None:
    pytest.importorskip("weasyprint")
    from onshore.report.pdf import cjk_font

    if cjk_font() is None or shutil.which("pdftoppm") is None:
        pytest.skip("needs a CJK font and pdftoppm (make test installs both from Debian)")
    import pypdf
    from PIL import Image

    content, _ = _report(home, "zh", "pdf")
    assert content.startswith(b"%PDF") and _verify(home, content) == ()
    reader = pypdf.PdfReader(io.BytesIO(content))
    fonts = {
        str(font.get_object()["/BaseFont"])
        for page in reader.pages
        for font in (page["/Resources"].get("/Font") or {}).values()
    }
    assert any(re.search(r"WenQuanYi|Noto|Source ?Han|CJK", f) for f in fonts), fonts
    assert "汽车数据安全管理情况年度报告" in reader.pages[0].extract_text()
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(content)
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "p")], check=True)
    pages = sorted(tmp_path.glob("p-*.png"))
    assert len(pages) == len(reader.pages) >= 2
    ink = [float((np.asarray(Image.open(p).convert("L")) < 230).mean()) for p in pages]
    assert all(0.001 < share < 0.6 for share in ink), ink  # no blank or black page
    assert ink[0] > 0.02, ink  # the first page: title, processor, contacts, a chart


# Latin words a Chinese report may hold: the data's own names (processor, people, recipients,
# datasets, stores; collected from the data block), standard designations and units.
LATIN_ALLOWED = {"GB", "T", "VIN", "Ed25519", "UTC"}
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")


def _names(data: dict) -> set[str]:  # type: ignore[type-arg]
    """Every Latin word that is a name in the data block: processor, contacts, recipients,
    datasets, stores and their locations, incident and complaint text."""
    names: set[str] = set()
    for key in ("legal_entity", "province"):
        names.add(str(data["processor"][key]))
    named = {
        "contacts": ("name", "contact"),
        "stores": ("store", "location"),
        "exports": ("recipient", "purpose"),
        "exports_use": (
            "recipient",
            "recipient_contact",
            "purpose",
            "storage_location",
            "storage_period",
            "scope_of_use",
            "manner_of_use",
            "necessity",
        ),
        "risk_assessment": ("id", "digest"),
        "exported_individuals": ("recipient", "purpose"),
        "incidents": ("id", "title", "handling"),
        "complaints": ("id", "summary", "handling", "transfer"),
    }
    for table_id, columns in named.items():
        table = data["tables"][table_id]
        for row in table["rows"]:
            for column, value in zip(table["columns"], row, strict=True):
                if column in columns:
                    names.add(str(value))
    for table in data["tables"].values():
        for row in table["rows"]:
            for column, value in zip(table["columns"], row, strict=True):
                if column in ("dataset", "datasets"):
                    names.add(str(value))
    return names


@pytest.mark.slow
def test_the_chinese_pdf_is_in_chinese(home: Path) -> None:
    """Every enum, purpose, mechanism, column and chart label of the zh edition is worded in
    Chinese: the only Latin words before the appendix (its queries are SQL and the tree head
    hex, for a reviewer to re-run) are names from the data, standard numbers and units."""
    pytest.importorskip("weasyprint")
    from onshore.report.pdf import cjk_font, pdf_text

    if cjk_font() is None:
        pytest.skip("needs a CJK font")
    content, data = _report(home, "zh", "pdf")
    text = "\n".join(pdf_text(content))
    body = text.split("附录：可追溯性")[0]
    names = _names(data)
    # a name the PDF wraps over two lines shows as two pieces of it
    stray = sorted(
        {
            w
            for w in LATIN_WORD.findall(body)
            if w not in LATIN_ALLOWED and not any(w in name for name in names)
        }
    )
    assert stray == [], stray


def test_every_zh_label_group_covers_the_english_one() -> None:
    """A key worded in English has a Chinese word too (else zh falls back to the key)."""
    from onshore.report.render import labels

    zh, en = labels("zh"), labels("en")
    for group in ("cols", "levels", "measures", "statuses", "mechanisms", "access_modes"):
        assert set(en[group]) <= set(zh[group]), group
    assert set(en["evidence"]) <= set(zh["evidence"]) and set(en["gaps"]) <= set(zh["gaps"])


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_notice_names_every_recipient_abroad(home: Path, lang: str) -> None:
    """PIPL Art. 39: the person is told the overseas recipient, its contact, the purposes and
    the types of information."""
    with DataHome(home) as h:
        html = render_notice(h, load_config(None, home=home), lang=lang, fmt="html")
        md = render_notice(h, load_config(None, home=home), lang=lang, fmt="md")
    for text in (html, md):
        assert "Acme GmbH" in text and "warranty analytics" in text
        assert ("德国" if lang == "zh" else "DE") in text
        assert ("向境外提供个人信息" if lang == "zh" else "provided abroad") in text
