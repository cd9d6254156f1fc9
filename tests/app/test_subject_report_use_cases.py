"""Subject requests and the annual report as use cases (``onshore.app.subject``,
``onshore.app.report``): one meaning in the library, the CLI and the service."""

from __future__ import annotations

import io
import json
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

# The store tests' support module (a data home with a settable clock, telemetry). Not through
# a tests/app/conftest.py: with --doctest-modules, a conftest in a folder that sorts before
# tests/conftest.py is imported first as "conftest" and the root one then fails to collect.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "store"))
from store_support import VINS, open_home, write_telemetry

from onshore.app import report, subject
from onshore.cli import cli
from onshore.errors import BadInput
from onshore.jsonenc import to_jsonable
from onshore.pipeline import ingest
from onshore.store.subject import deletion_due

ROWS = 200


@pytest.fixture
def home_dir(tmp_path: Path) -> Path:
    source = write_telemetry(tmp_path, rows_per_vin=ROWS)
    home_path = tmp_path / "home"
    with open_home(home_path) as home:
        ingest(home, source, dataset="telemetry", purpose="national_monitoring")
    return home_path


def test_export_then_delete(home_dir: Path, tmp_path: Path) -> None:
    with open_home(home_dir) as home:
        data, summary = subject.export_zip(home, VINS[0])
        names = zipfile.ZipFile(io.BytesIO(data)).namelist()
        assert summary.rows == {"telemetry": ROWS}
        assert any(n.startswith("lake/") and n.endswith(".parquet") for n in names)
        folder = subject.export(home, VINS[0], tmp_path / "export")
        assert folder.rows == summary.rows and Path(folder.path).is_dir()

        as_text = subject.delete(home, VINS[0], received="2026-11-03")
        as_time = subject.delete(home, VINS[1], received=datetime(2026, 11, 3, tzinfo=UTC))
        due = deletion_due(home, datetime(2026, 11, 3, tzinfo=UTC))
        assert as_text.due_date == as_time.due_date == due.day.isoformat()
        assert as_text.rows_removed == {"telemetry": ROWS} and as_text.rows_remaining == 0
        now = subject.delete(home, VINS[2])  # received now: the home's clock
        assert now.received_at.startswith("2026-11-03T12:00")


def test_bad_requests_name_the_field(home_dir: Path) -> None:
    with open_home(home_dir) as home:
        with pytest.raises(BadInput) as vin:
            subject.delete(home, "NOT-A-VIN")
        assert vin.value.field == "vin"
        with pytest.raises(BadInput) as when:
            subject.delete(home, VINS[0], received="last tuesday")
        assert when.value.field == "received"
        with pytest.raises(BadInput):
            subject.export_zip(home, "../../etc/passwd")


def test_the_cli_reads_the_received_time_as_the_library_does(home_dir: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["subject", "delete", "--vin", VINS[0], "--received", "2026-11-03 10:00", "--json",
         "--home", str(home_dir)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    with open_home(home_dir) as home:
        assert out["received_at"].startswith("2026-11-03T10:00")
        due = deletion_due(home, subject.received_time("2026-11-03 10:00"))
        assert out["due_date"] == due.day.isoformat()


def test_report_render_collect_verify(home_dir: Path) -> None:
    with open_home(home_dir) as home:
        assert report.report_year(home) == 2026  # the clock's year in Beijing time
        rendered = report.render(home, lang="en", fmt="md")
        assert rendered.year == 2026 and rendered.filename == "onshore-report-2026-en.md"
        assert rendered.content.startswith(b"# Annual")
        summary = rendered.summary()
        assert summary["bytes"] == len(rendered.content) and summary["format"] == "md"
        figures = report.collect(home, 2026)
        embedded = {k: v for k, v in rendered.report.data.items() if k != "render"}
        assert to_jsonable(figures) == to_jsonable(embedded)
        assert report.verify(home, rendered.content).ok
        forged = rendered.content.replace(b"# Annual", b"# Annuel", 1)
        checked = report.verify(home, forged)
        assert not checked.ok and checked.problems


def test_the_service_offers_the_same_verbs(home_dir: Path) -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from onshore.service import ServiceSettings, create_app

    app = create_app(ServiceSettings(home=home_dir), environ={})
    made = {r: app.state.onshore.keys.add(r, name=r).key for r in ("compliance", "operator")}
    compliance, operator = ({"X-API-Key": made[r]} for r in ("compliance", "operator"))
    with TestClient(app) as client, open_home(home_dir) as home:
        got = client.get("/v1/reports/2026?lang=en&format=md", headers=compliance)
        assert got.status_code == 200, got.text
        assert 'filename="onshore-report-2026-en.md"' in got.headers["content-disposition"]
        verified = client.post("/v1/reports/verify", content=got.content, headers=compliance)
        assert verified.status_code == 200, verified.text
        local = report.verify(home, got.content)
        assert verified.json() == {"ok": True, "checked": list(local.checked), "problems": []}
        forged = got.content.replace(b"# Annual", b"# Annuel", 1)
        refused = client.post("/v1/reports/verify", content=forged, headers=compliance).json()
        assert refused["ok"] is False and refused["problems"]
        garbage = client.post("/v1/reports/verify", content=b"not a report", headers=compliance)
        assert garbage.status_code == 422 and garbage.json()["type"].endswith("bad-input")
        other = client.post("/v1/reports/verify", content=got.content, headers=operator)
        assert other.status_code == 403
        # the received time read as the CLI and the library read it (a space before the time)
        deleted = client.delete(
            f"/v1/subjects/{VINS[0]}", params={"received": "2026-11-03 10:00"}, headers=compliance
        )
        assert deleted.status_code == 200, deleted.text
        assert deleted.json()["received_at"].startswith("2026-11-03T10:00")
