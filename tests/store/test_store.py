"""Stores with a jurisdiction: puts, residency on every write path, atomic rewrites, purge, CLI."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from store_support import NOW, VINS, Clock, open_home, telemetry, write_telemetry

from onshore.cli import cli
from onshore.errors import PolicyRefusal, StorageError
from onshore.ledger import Activity
from onshore.model import Level
from onshore.pipeline import ingest
from onshore.store import Lake, residency_decision
from onshore.store.atomic import remove_stale_temps, write_parquet_atomic
from onshore.store.purge import purge


def test_put_partitions_by_date_and_logs_collection_and_storage(tmp_path: Path) -> None:
    source = write_telemetry(tmp_path)
    with open_home(tmp_path / "home") as home:
        result = ingest(home, source, dataset="telemetry", purpose="national_monitoring")
        files = Lake(home).files(dataset="telemetry")
        kinds = [e.kind for _, e in home.ledger.entries()]
        storage = next(e for _, e in home.ledger.entries(kind=Activity.STORAGE))
        assert home.ledger.verify().ok
    assert result.rows_stored == 9000 == sum(f.rows for f in files)
    assert [f.part_date for f in files] == ["2026-11-01", "2026-11-02"]
    assert kinds == [Activity.COLLECTION, Activity.STORAGE]
    assert storage.counts["rows"] == 9000 and storage.counts["distinct_vehicles"] == 3
    assert "location.trajectory" in storage.categories
    assert storage.details["jurisdiction"] == "CN"
    stored = pq.read_table(tmp_path / "home" / "lake" / files[0].path)
    assert {"onshore_level", "onshore_reasons", "vin", "lat"} <= set(stored.schema.names)


def test_residency_decision_is_by_country_and_level(pack) -> None:  # type: ignore[no-untyped-def]
    def allowed(store: str, level: Level) -> bool:
        d = residency_decision(pack, store_jurisdiction=store, origin="CN", level=level)
        return d.allowed

    assert allowed("CN", Level.IMPORTANT) and allowed("CN-BJ", Level.PERSONAL)
    assert allowed("DE", Level.GENERAL)
    assert not allowed("DE", Level.PERSONAL) and not allowed("US-CA", Level.IMPORTANT)


def test_personal_data_is_refused_abroad_with_a_ledger_entry(tmp_path: Path) -> None:
    source = write_telemetry(tmp_path)
    with open_home(tmp_path / "home") as home:
        fra = home.add_store("fra", jurisdiction="DE", location="Frankfurt")
        with pytest.raises(PolicyRefusal) as caught:
            ingest(home, source, dataset="t", purpose="national_monitoring", store="fra")
        refusals = list(home.ledger.entries(kind=Activity.POLICY_REFUSAL))
        assert Lake(home).files() == []
    assert caught.value.exit_code == 4
    assert len(refusals) == 1
    entry = refusals[0][1]
    assert entry.reasons == ("cn-auto/residency/localisation",)
    assert entry.details["store_jurisdiction"] == "DE"
    assert not list(fra.root.glob("dataset=*/**/*.parquet"))
    assert not any(fra.root.glob(".staging/*"))


def test_general_data_may_be_stored_abroad(tmp_path: Path) -> None:
    path = tmp_path / "status.parquet"
    pq.write_table(pa.table({"soc": [50.0, 51.0], "odometer_km": [10.0, 11.0]}), path)
    with open_home(tmp_path / "home") as home:
        home.add_store("fra", jurisdiction="DE", location="Frankfurt")
        result = ingest(home, path, dataset="status", purpose="fleet_analytics", store="fra")
    assert result.rows_stored == 2 and result.assessment.level == Level.GENERAL


def test_rewrites_are_checked_for_residency_too(tmp_path: Path) -> None:
    """A file with personal rows found in a foreign store (put there behind Onshore's back)
    is never rewritten there: deletion and purge paths go through the same check."""
    source = write_telemetry(tmp_path, rows_per_vin=50)
    with open_home(tmp_path / "home") as home:
        ingest(home, source, dataset="telemetry", purpose="national_monitoring")
        fra = home.add_store("fra", jurisdiction="DE", location="Frankfurt")
        local = home.store()
        lake = Lake(home)
        original = lake.files()[0]
        smuggled = fra.root / original.path
        smuggled.parent.mkdir(parents=True)
        smuggled.write_bytes((local.root / original.path).read_bytes())
        foreign = next(f for s, f in lake.all_files() if s.name == "fra")
        with pytest.raises(PolicyRefusal):
            lake.rewrite(
                fra, foreign, lambda t: pa.array([i % 2 == 0 for i in range(t.num_rows)]),
                action="test",
            )  # fmt: skip
        assert pq.read_table(smuggled).num_rows == original.rows


def test_a_crash_between_write_and_replace_leaves_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "part.parquet"
    write_parquet_atomic(path, pa.table({"x": [1, 2, 3]}))

    def crash(tmp: Path) -> None:
        assert tmp.exists() and pq.read_table(tmp).num_rows == 1
        raise OSError("disk pulled")

    with pytest.raises(StorageError):
        write_parquet_atomic(path, pa.table({"x": [9]}), before_replace=crash)
    assert pq.read_table(path).column("x").to_pylist() == [1, 2, 3]
    assert [p.name for p in tmp_path.iterdir()] == ["part.parquet"]


def test_stale_temporaries_of_dead_writers_are_removed(tmp_path: Path) -> None:
    (tmp_path / ".part.parquet.tmp-999999999-abcd").write_bytes(b"half a file")
    (tmp_path / "keep.parquet").write_bytes(b"x")
    assert remove_stale_temps(tmp_path) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["keep.parquet"]


def test_purge_removes_rows_past_retention(tmp_path: Path) -> None:
    source = write_telemetry(tmp_path)
    clock = Clock()
    with open_home(tmp_path / "home", clock) as home:
        ingest(home, source, dataset="telemetry", purpose="national_monitoring")
        assert purge(home).rows_removed == {}  # 2 days old: trajectories keep 7 days
        clock.advance(days=8)
        dry = purge(home, dry_run=True)
        assert dry.rows_removed == {"telemetry": 9000}
        assert sum(f.rows for f in Lake(home).files()) == 9000
        done = purge(home)
        assert done.rows_removed == {"telemetry": 9000} and done.files_removed == 2
        assert Lake(home).files() == []
        entries = [e for _, e in home.ledger.entries(kind=Activity.DELETION)]
        assert entries[-1].purpose == "retention" and entries[-1].counts == {"rows": 9000}
        assert home.ledger.verify().ok


def test_purge_keeps_rows_whose_sensitive_columns_are_null(tmp_path: Path) -> None:
    """Retention follows what a row holds: without a trajectory, the 7-day limit does not bite."""
    table = telemetry(rows_per_vin=10)
    table = table.set_column(2, "lat", pa.nulls(table.num_rows, pa.float64()))
    table = table.set_column(3, "lon", pa.nulls(table.num_rows, pa.float64()))
    path = tmp_path / "t.parquet"
    pq.write_table(table, path)
    clock = Clock()
    with open_home(tmp_path / "home", clock) as home:
        ingest(home, path, dataset="telemetry", purpose="national_monitoring")
        clock.advance(days=30)
        assert purge(home).rows_removed == {}
        clock.moment = NOW + timedelta(days=366)  # driving.behaviour: 365 days
        assert purge(home).rows_removed == {"telemetry": 30}


def test_cli_put_ls_purge_and_exit_codes(tmp_path: Path) -> None:
    source = write_telemetry(tmp_path, rows_per_vin=100)
    home = str(tmp_path / "home")
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(cli, [*args, "--home", home], catch_exceptions=False)
        return result.exit_code, result.output

    from onshore.cli._common import run_guarded

    code, out = run("store", "put", str(source), "--dataset", "telemetry", "--json")
    assert code == 0
    payload = json.loads(out)
    assert payload["rows_stored"] == 300 and payload["level"] == "sensitive_personal"
    code, out = run("store", "ls", "--json")
    listing = json.loads(out)
    assert [s["jurisdiction"] for s in listing["stores"]] == ["CN"]
    assert sum(f["rows"] for f in listing["files"]) == 300
    code, _ = run("store", "add", "fra", "--jurisdiction", "DE", "--location", "Frankfurt")
    assert code == 0
    argv = ["store", "put", str(source), "--dataset", "x", "--store", "fra", "--home", home]
    assert run_guarded(cli, argv) == 4
    code, out = run("store", "purge", "--now", "2027-01-01", "--dry-run", "--json")
    assert json.loads(out)["rows_removed"] == {"telemetry": 300}
    assert run_guarded(cli, ["store", "put", "--help"]) == 0
    assert run_guarded(cli, ["ledger", "verify", "--home", home]) == 0


def test_vins_in_fixture_are_distinct() -> None:
    assert len(set(VINS)) == 3
