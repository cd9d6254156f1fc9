"""Data-subject rights: export everything about a vehicle; delete it for good, crash-safely,
on time (10 Chinese working days), with evidence in the ledger."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from store_support import NOW, T0, VINS, open_home, write_telemetry

from onshore.cli import cli
from onshore.consent import ConsentRegistry
from onshore.errors import StorageError
from onshore.ledger import Activity
from onshore.pipeline import ingest
from onshore.store import Lake
from onshore.store.atomic import write_parquet_atomic
from onshore.store.subject import count_vin, delete_subject, deletion_due, export_subject


@pytest.fixture
def home_dir(tmp_path: Path) -> Path:
    source = write_telemetry(tmp_path)
    home_path = tmp_path / "home"
    with open_home(home_path) as home:
        ingest(home, source, dataset="telemetry", purpose="national_monitoring")
        ConsentRegistry(home).grant(
            VINS[0], "location.trajectory", "navigation",
            expires_at=NOW + timedelta(days=30), granted_at=T0,
        )  # fmt: skip
    return home_path


def _lake_rows(home_path: Path) -> dict[str, int]:
    return _rows_of(sorted((home_path / "lake").rglob("*.parquet")))


def _rows_of(paths: list[Path] | list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for path in paths:
        vins = pq.read_table(path, columns=["vin"]).column("vin")
        for item in pc.value_counts(vins).to_pylist():
            out[item["values"]] = out.get(item["values"], 0) + item["counts"]
    return out


@pytest.mark.parametrize(
    ("received", "due", "confidence"),
    [
        (datetime(2025, 9, 26, 9, tzinfo=UTC), date(2025, 10, 16), "C"),  # over National Day
        (datetime(2026, 2, 12, 9, tzinfo=UTC), date(2026, 3, 4), "S"),  # over Spring Festival
        (datetime(2026, 2, 12, 20, tzinfo=UTC), date(2026, 3, 5), "S"),  # 04:00 on 13 Feb, Beijing
        (datetime(2026, 11, 3, 12, tzinfo=UTC), date(2026, 11, 17), "S"),
        (datetime(2026, 12, 28, 12, tzinfo=UTC), date(2027, 1, 12), "U"),  # into 2027: unconfirmed
    ],
)
def test_due_date_counts_chinese_working_days(
    tmp_path: Path, received: datetime, due: date, confidence: str
) -> None:
    with open_home(tmp_path) as home:
        result = deletion_due(home, received)
    assert (result.day, result.confidence) == (due, confidence)


def test_delete_removes_every_row_and_record_with_evidence(home_dir: Path) -> None:
    before = _lake_rows(home_dir)
    with open_home(home_dir) as home:
        result = delete_subject(home, VINS[0])
        assert count_vin(home, VINS[0]) == (0, 2)
        requests = home.meta.query("SELECT status, due_date, completed_at FROM subject_requests")
        assert ConsentRegistry(home).list(vin=VINS[0]) == []
        entry = [e for _, e in home.ledger.entries(kind=Activity.DELETION)][-1]
        assert home.ledger.verify().ok
        assert sum(f.rows for f in Lake(home).files()) == 6000
    after = _lake_rows(home_dir)
    assert VINS[0] not in after and after == {v: before[v] for v in VINS[1:]}
    assert result.rows_removed == {"telemetry": 3000} and result.rows_remaining == 0
    assert requests == [("completed", "2026-11-17", result.completed_at)]
    assert entry.subject == result.subject and entry.counts["rows"] == 3000
    assert entry.details["due_date"] == "2026-11-17" and entry.details["on_time"] is True


def test_a_failure_between_write_and_replace_keeps_the_old_file_and_the_request_open(
    home_dir: Path,
) -> None:
    before = _lake_rows(home_dir)

    def crash(tmp: Path) -> None:
        raise OSError("power cut")

    with open_home(home_dir) as home:
        with pytest.raises(StorageError):
            delete_subject(home, VINS[0], before_replace=crash)
        assert home.meta.query("SELECT status FROM subject_requests") == [("open",)]
        assert _lake_rows(home_dir) == before
        assert not list((home_dir / "lake").rglob(".*.tmp-*"))
        delete_subject(home, VINS[0])
        assert count_vin(home, VINS[0])[0] == 0


_CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    sys.path.insert(0, {support!r})
    from store_support import open_home
    from onshore.store.subject import delete_subject

    def pause(tmp):
        Path({marker!r}).write_text(str(tmp))
        time.sleep(60)

    with open_home(Path({home!r})) as home:
        delete_subject(home, {vin!r}, before_replace=pause)
    """
)


def test_killing_the_process_mid_rewrite_leaves_a_whole_file(home_dir: Path) -> None:
    before = _lake_rows(home_dir)
    marker = home_dir.parent / "marker"
    script = _CHILD.format(
        support=str(Path(__file__).resolve().parents[1] / "store"),
        marker=str(marker), home=str(home_dir), vin=VINS[0],
    )  # fmt: skip
    child = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.05)
    assert marker.exists(), "the child never reached the replace"
    tmp = Path(marker.read_text())
    assert tmp.exists()
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert tmp.exists()  # the new file, written under its own name, was never indexed
    with open_home(home_dir) as home:
        indexed = [home.store(f.store).lake.full(f.path) for f in Lake(home).files()]
    assert str(tmp) not in indexed and _rows_of(indexed) == before  # readers: old files, whole
    with open_home(home_dir) as home:
        delete_subject(home, VINS[0])  # a retry completes and clears the dead temporary
        assert count_vin(home, VINS[0])[0] == 0
    assert not tmp.exists()


_LOOP = textwrap.dedent(
    """
    import pyarrow as pa
    from pathlib import Path
    from onshore.store.atomic import write_parquet_atomic
    path = Path({path!r})
    i = 0
    while True:
        n = 200_000 if i % 2 else 100_000
        write_parquet_atomic(path, pa.table({{"x": pa.array(range(n))}}))
        i += 1
    """
)


def test_random_kills_during_rewrites_never_break_the_file(tmp_path: Path) -> None:
    path = tmp_path / "part.parquet"
    write_parquet_atomic(path, pa.table({"x": pa.array(range(100_000))}))
    rng = random.Random(6)
    for _ in range(6):
        child = subprocess.Popen([sys.executable, "-c", _LOOP.format(path=str(path))])
        time.sleep(0.3 + rng.random() * 0.7)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        assert pq.read_table(path).num_rows in (100_000, 200_000)


def test_export_packages_everything_about_the_vehicle(home_dir: Path, tmp_path: Path) -> None:
    with open_home(home_dir) as home:
        folder = export_subject(home, VINS[0], tmp_path / "export")
        archive = export_subject(home, VINS[0], tmp_path / "export.zip")
        assert [e.kind for _, e in home.ledger.entries(kind=Activity.VIEW)] == [Activity.VIEW] * 2
    assert folder.rows == {"telemetry": 3000} and folder.files == 2 and folder.consents == 1
    root = tmp_path / "export"
    rows = sum(pq.read_table(p).num_rows for p in (root / "lake").rglob("*.parquet"))
    vins = {
        v for p in (root / "lake").rglob("*.parquet") for v in pq.read_table(p)["vin"].to_pylist()
    }
    assert rows == 3000 and vins == {VINS[0]}
    consents = json.loads((root / "consents.json").read_text())
    assert consents[0]["category"] == "location.trajectory"
    ledger = [json.loads(line) for line in (root / "ledger.jsonl").read_text().splitlines()]
    assert [item["entry"]["kind"] for item in ledger] == ["consent_change"]
    lake = json.loads((root / "lake.json").read_text())
    assert {f["store_jurisdiction"] for f in lake} == {"CN"}
    with zipfile.ZipFile(tmp_path / "export.zip") as z:
        names = set(z.namelist())
    assert {"README.md", "consents.json", "ledger.jsonl", "lake.json", "requests.json"} <= names
    assert archive.ledger_entries == 2  # the consent, and the first export


def test_subject_cli_delete_and_export(home_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    home = ["--home", str(home_dir)]
    out = runner.invoke(
        cli, ["subject", "delete", "--vin", VINS[1], "--received", "2026-09-26", "--json", *home]
    )
    assert out.exit_code == 0, out.output
    result = json.loads(out.output)
    assert result["due_date"] == "2026-10-15" and result["rows_remaining"] == 0
    out = runner.invoke(
        cli,
        ["subject", "export", "--vin", VINS[1], "--out", str(tmp_path / "e.zip"), "--json", *home],
    )
    assert out.exit_code == 0 and json.loads(out.output)["rows"] == {}
    bad = runner.invoke(cli, ["subject", "delete", "--vin", "nope", *home])
    assert bad.exit_code != 0
    assert T0 < NOW
