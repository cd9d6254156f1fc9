"""The Art. 10 risk assessment of important-data processing (issue 18 item 11).

Provisions 2021 Art. 10 asks important-data processors for a risk assessment; the Network Data
Security Management Regulations make it annual (the 2026-12 audit of the texts, §7a item 9).
Onshore generates it from the annual report's own tables, records each on the ledger with its
digest, and the annual report cites the latest one; `report due` lists a missing one while
important data is held, and not when none is (the twin).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from click.testing import CliRunner

from onshore.classify.vin import vin_check_char
from onshore.cli import cli
from onshore.config import load_config
from onshore.geo import AreaIndex
from onshore.geo.areas import load_areas
from onshore.pipeline import ingest
from onshore.report import build_report, collect, missing_to_file
from onshore.report.annual import read_block
from onshore.report.render import labels
from onshore.report.risk import (
    TABLES,
    assess,
    digest,
    due_date,
    history,
    make_assessment,
    render_assessment,
    verify_assessment,
)
from onshore.store import DataHome

CONFIG = """\
processor:
  legal_entity: Demo Auto Co., Ltd.
  ciio: false
  province: Beijing
  responsible_person: {name: Wang Fang, email: dpo@example.cn}
  user_rights_contact: {name: Li Lei, phone: "400-000-0000"}
"""
# A military zone: positions inside it (or its buffer) are important data (Art. 3 item 1)
AREAS = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"id": "mz-1", "kind": "military_zone", "name": "test zone"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[100.0, 30.0], [100.1, 30.0], [100.1, 30.1], [100.0, 30.0]]],
            },
        }
    ],
}
GAP = "no risk assessment of 2026"
NOW = dt.datetime(2026, 11, 10, 4, 0, tzinfo=dt.UTC)


def _open(path: Path) -> DataHome:
    """The home at a fixed time (figures never depend on today's date)."""
    return DataHome(path, environ={}, clock=lambda: NOW)


def _vin(i: int) -> str:
    body = f"LSVAB2180N{i:07d}"
    return body[:8] + vin_check_char(body) + body[9:]


def _batch(n: int, *, inside: int) -> Any:
    """``n`` positions of 5 vehicles, the first ``inside`` in the military zone."""
    table = pa.table(
        {
            "vin": [_vin(i % 5) for i in range(n)],
            "ts": pa.array(
                [dt.datetime(2026, 11, 2, 8, 0, i % 60, tzinfo=dt.UTC) for i in range(n)],
                pa.timestamp("ms", "UTC"),
            ),
            "lat": [30.05 if i < inside else 39.9 + i * 1e-4 for i in range(n)],
            "lon": [100.05 if i < inside else 116.4 + i * 1e-4 for i in range(n)],
            "speed_kmh": [30.0 + i for i in range(n)],
        }
    )
    return [(b, None) for b in table.to_batches()]


def _home(path: Path, *, inside: int) -> Path:
    path.mkdir(parents=True, mode=0o700)
    (path / "config.yaml").write_text(CONFIG)
    with _open(path) as h:
        areas = AreaIndex.build(load_areas(AREAS), engine="numpy")
        ingest(
            h,
            _batch(30, inside=inside),
            dataset="trips",
            purpose="national_monitoring",
            areas=areas,
        )
    return path


@pytest.fixture
def important(tmp_path: Path) -> Path:
    return _home(tmp_path / "important", inside=7)


def _rows(data: dict[str, Any], table: str) -> list[dict[str, Any]]:
    t = data["tables"][table]
    return [dict(zip(t["columns"], r, strict=True)) for r in t["rows"]]


def test_a_missing_assessment_is_a_gap_until_one_is_made_and_cited(important: Path) -> None:
    config = load_config(None, home=important)
    with _open(important) as h:
        data = collect(h, config, 2026)
        total = next(r for r in _rows(data, "important") if r["rule"] == "*")
        assert total["records"] == 7 and total["individuals"] == 5
        assert _rows(data, "risk_assessment") == []
        assert any(GAP in m for m in missing_to_file(h, config, 2026))
        en = build_report(h, config, 2026, lang="en", fmt="md").content.decode()
        assert GAP in en  # the report itself shows the gap
        made = make_assessment(h, config, 2026, langs=("zh", "en"), fmt="md")
        assert not any(GAP in m for m in missing_to_file(h, config, 2026))
        report = build_report(h, config, 2026, lang="en", fmt="md")
    (cited,) = _rows(dict(report.data), "risk_assessment")
    assert cited["id"] == made.id and cited["digest"] == made.digest == digest(made.data)
    assert cited["assessed_at"] == made.data["as_of"] and cited["assessments"] == 1
    text = report.content.decode()
    assert made.id in text and made.digest in text and GAP not in text
    assert cited["important_records"] == 7
    # more important data since: the assessment no longer covers what is held
    with _open(important) as h:
        areas = AreaIndex.build(load_areas(AREAS), engine="numpy")
        ingest(h, _batch(5, inside=3), dataset="more", purpose="national_monitoring", areas=areas)
        missing = missing_to_file(h, config, 2026)
    stale = f"the latest risk assessment ({made.id}) assessed 7 important-data rows; 10 are held"
    assert any(m.startswith(stale) for m in missing), missing


def test_without_important_data_no_assessment_is_asked_for(tmp_path: Path) -> None:
    """The twin: the same data outside every sensitive area holds no important data."""
    home = _home(tmp_path / "plain", inside=0)
    with _open(home) as h:
        missing = missing_to_file(h, load_config(None, home=home), 2026)
    assert not any(GAP in m for m in missing)


def test_the_assessment_holds_the_report_figures_and_its_risks(important: Path) -> None:
    """One definition of each figure: the assessment's tables are the report's tables."""
    config = load_config(None, home=important)
    with _open(important) as h:
        size = h.ledger.size()
        data = assess(h, config, 2026, assessment_id="RA-t", tree_size=size)
        report = collect(h, config, 2026, as_of=data["as_of"], tree_size=size)
    for table_id in TABLES:
        assert data["tables"][table_id] == report["tables"][table_id], table_id
    assert data["due"] == due_date(2026).isoformat() == "2026-12-15"
    risks = {r["risk"]: r for r in _rows(data, "risks")}
    held = risks["important_held"]
    assert held["risk_level"] == "high" and held["risk_status"] == "mitigated"
    assert held["risk_evidence"] == {"key": "important_held", "rows": 7, "individuals": 5}
    # nothing went abroad: that risk does not apply (and is not "mitigated")
    assert risks["important_abroad"]["risk_status"] == "not_applicable"


def test_rows_past_retention_leave_the_retention_risk_open(important: Path) -> None:
    config = load_config(None, home=important)
    with _open(important) as h:
        # trajectory is kept 7 days (retention.yaml): a year on, every row is past it
        data = assess(h, config, 2026, assessment_id="RA-t", as_of="2027-11-01T00:00:00.000Z")
    risks = {r["risk"]: r for r in _rows(data, "risks")}
    assert risks["retention"]["risk_status"] == "open"
    assert risks["retention"]["risk_evidence"]["rows"] > 0


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_documents_verify_and_a_changed_figure_does_not(important: Path, fmt: str) -> None:
    config = load_config(None, home=important)
    with _open(important) as h:
        made = make_assessment(h, config, 2026, langs=("zh", "en"), fmt=fmt)
        zh, en = (d.content for d in made.documents)
        assert verify_assessment(h, config, zh).ok and verify_assessment(h, config, en).ok
        assert "重要数据处理活动风险评估报告" in zh.decode() and made.id in zh.decode()
        block = read_block(en)
        assert digest(block) == made.digest  # one digest for both languages
        block["tables"]["important"]["rows"][-1][2] = 6
        forged = render_assessment({k: v for k, v in block.items() if k != "render"}, "en", fmt)
        problems = verify_assessment(h, config, forged).problems
        assert problems and problems[0].startswith("important: row")
        # a figure left as it was, but an assessment the ledger never recorded
        unrecorded = dict(read_block(en), id="RA-2026-00000000")
        unrecorded.pop("render")
        problems = verify_assessment(h, config, render_assessment(unrecorded, "en", fmt)).problems
        assert any("recorded on the ledger" in p for p in problems)


def test_history_and_the_cli(important: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    home = ["--home", str(important)]
    out = tmp_path / "out"
    result = runner.invoke(
        cli,
        ["report", "risk", "--year", "2026", "--format", "md", "--out", str(out), "--json", *home],
    )
    assert result.exit_code == 0, result.output
    first = json.loads(result.output)
    assert [Path(d["path"]).name for d in first["documents"]] == [
        f"risk-assessment-{first['id']}-zh.md",
        f"risk-assessment-{first['id']}-en.md",
    ]
    result = runner.invoke(
        cli, ["report", "risk", "--year", "2026", "--lang", "en", "--out", str(out), *home]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["report", "risk", "list", "--json", *home])
    listed = json.loads(result.output)
    assert listed[0]["id"] == first["id"] and len(listed) == 2
    assert listed[0]["digest"] == first["digest"]
    with _open(important) as h:
        assert [r["id"] for r in history(h, 2026)] == [r["id"] for r in listed]
        assert history(h, 2025) == []
    path = first["documents"][0]["path"]
    result = runner.invoke(cli, ["report", "risk", "verify", path, *home])
    assert result.exit_code == 0 and "ok" in result.output, result.output
    Path(path).write_text(Path(path).read_text().replace("Demo Auto", "Other Auto", 1))
    proc = subprocess.run(
        [sys.executable, "-m", "onshore", "report", "risk", "verify", path, *home],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 3 and "mismatch: document" in proc.stderr, proc.stderr


def test_every_basis_and_risk_is_worded_in_chinese() -> None:
    """The zh edition words every legal basis of the pack and every risk in Chinese."""
    from onshore.packs import load_pack

    pack = load_pack("cn-auto")
    zh = labels("zh")
    assert pack.bases is not None
    assert {b.id for b in pack.bases.bases} <= set(zh["basis_rules"])
    assert {b.basis for b in pack.bases.bases} <= set(zh["basis_kinds"])
    en = labels("en")
    for group in ("risks", "risk_levels", "risk_statuses", "risk_evidence", "risk_doc"):
        assert set(en[group]) <= set(zh[group]), group


LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")


@pytest.mark.slow
def test_the_chinese_pdf_assessment_is_in_chinese(important: Path) -> None:
    pytest.importorskip("weasyprint")
    from onshore.report.pdf import cjk_font, pdf_text

    if cjk_font() is None:
        pytest.skip("needs a CJK font")
    config = load_config(None, home=important)
    with _open(important) as h:
        made = make_assessment(h, config, 2026, langs=("zh",), fmt="pdf")
        assert verify_assessment(h, config, made.documents[0].content).ok
    text = "\n".join(pdf_text(made.documents[0].content))
    body = text.split("附录：可追溯性")[0]
    # the data's own names (a name the PDF wraps shows as pieces of it), standard numbers, units
    names = ["Demo Auto Co., Ltd.", "Beijing", "trips", made.id, "SHA-256"]
    names += [str(v) for r in made.data["tables"]["stores"]["rows"] for v in r[:3]]
    allowed = {"GB", "T", "VIN", "Ed25519", "UTC"}
    stray = sorted(
        {
            w
            for w in LATIN_WORD.findall(body)
            if w not in allowed and not any(w in name for name in names)
        }
    )
    assert stray == [], stray
