"""The data home is owner-only whatever the umask: the home 0700, what the storage layer writes
0600 in 0700 folders, and nothing below the home reachable by another user."""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from store_support import VINS, open_home, write_telemetry

from onshore.pipeline import ingest
from onshore.store import Lake


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The common default umask, under which files are world-readable unless made otherwise."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def reachable_by_others(path: Path, home: Path) -> bool:
    """Could a user other than the owner (not in its group either) read ``path``?"""
    rel = path.relative_to(home)
    folders = [home, *(home / p for p in reversed(rel.parents[:-1]))]
    if any(not mode(f) & stat.S_IXOTH for f in folders):
        return False
    return bool(mode(path) & stat.S_IROTH)


def test_a_new_home_and_what_onshore_writes_are_owner_only(umask_022: None, tmp_path: Path) -> None:
    source = write_telemetry(tmp_path, rows_per_vin=300)
    probe = tmp_path / "probe"
    probe.write_text("x")
    assert mode(probe) == 0o644  # the umask really is permissive
    outside = tmp_path / "elsewhere" / "lake"  # a store outside the home
    home_path = tmp_path / "home"
    with open_home(home_path) as home:
        home.add_store("disk2", jurisdiction="CN", location="second disk", path=str(outside))
        ingest(home, source, dataset="telemetry", purpose="national_monitoring")
        ingest(home, source, dataset="t2", purpose="national_monitoring", store="disk2")
        files = Lake(home).files()
        # a rewrite (atomic replace) keeps the file owner-only
        store = home.store()
        first = next(f for f in files if f.store == "local")
        Lake(home).rewrite(store, first, lambda t: pa.array([True] * (t.num_rows - 1) + [False]),
                           action="test")  # fmt: skip
        files = Lake(home).files()  # the rewrite wrote a new file
        from onshore.ingest import Ingestor

        Ingestor(home, worker="t").ingest("bad", "json", [b"not json"])
        for name in ("meta.db", "meta.db-wal", "meta.db-shm", "meta.db.ledger-lock"):
            assert mode(home_path / name) == 0o600, name  # while open: WAL files exist
    assert mode(home_path) == 0o700
    lake_files = [home_path / "lake" / f.path for f in files if f.store == "local"]
    lake_files += [outside / f.path for f in files if f.store == "disk2"]
    assert len(lake_files) == len(files) >= 4
    for file in lake_files:
        assert mode(file) == 0o600, file
        assert mode(file.parent) == mode(file.parent.parent) == 0o700, file
    assert mode(outside) == mode(outside.parent) == 0o700
    quarantined = home_path / "quarantine" / "ingest-bad.jsonl"
    assert json.loads(quarantined.read_text().splitlines()[0])["reason"]
    assert mode(quarantined) == 0o600 and mode(quarantined.parent) == 0o700
    keys = [p for p in (home_path / "keys").rglob("*") if p.is_file()]
    assert keys and all(mode(p) == 0o600 for p in keys)
    everything = [p for p in home_path.rglob("*")]
    assert not [p for p in everything if reachable_by_others(p, home_path)]


def test_the_outbox_is_out_of_reach(umask_022: None, tmp_path: Path) -> None:
    from onshore.classify.vin import vin_check_char
    from onshore.config import load_config
    from onshore.transfer.execute import TransferGate, read_request

    def vin(i: int) -> str:
        body = f"LSVAB2180N{i:07d}"
        return body[:8] + vin_check_char(body) + body[9:]

    table = pa.table({"vin": [vin(i) for i in range(5)], "speed_kmh": [1.0] * 5})
    pq.write_table(table, tmp_path / "trips.parquet")
    request = tmp_path / "request.json"
    request.write_text(json.dumps({
        "dataset": str(tmp_path / "trips.parquet"), "purpose": "warranty analytics",
        "recipient": {"name": "Acme GmbH", "country": "DE"},
        "impact_assessment": "PIPIA-2026-07", "outbound_basis": "contract",
        "outbound_basis_note": "warranty service contract with the owner",
    }))  # fmt: skip
    home_path = tmp_path / "home"
    with open_home(home_path) as home:
        outcome = TransferGate(home, load_config(None, home=home_path)).run(read_request(request))
    assert outcome.decision.allowed and outcome.package is not None
    package = list(outcome.package.iterdir())
    assert package and outcome.package.is_relative_to(home_path)
    assert mode(home_path) == 0o700
    assert not [p for p in package if reachable_by_others(p, home_path)]


def test_an_open_existing_home_is_fixed_with_one_warning(
    umask_022: None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    home_path = tmp_path / "home"
    with open_home(home_path) as home:
        home.store()
    os.chmod(home_path, 0o755)
    os.chmod(home_path / "meta.db", 0o644)
    with caplog.at_level(logging.WARNING, logger="onshore.store"), open_home(home_path) as home:
        assert home.stores()[0].name == "local"
    warnings = [r for r in caplog.records if r.name == "onshore.store"]
    assert len(warnings) == 1
    text = warnings[0].getMessage()
    assert "0755" in text and "meta.db 0644" in text and "set the home to 0700" in text
    assert mode(home_path) == 0o700 and mode(home_path / "meta.db") == 0o600
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="onshore.store"), open_home(home_path):
        pass
    assert not [r for r in caplog.records if r.name == "onshore.store"]  # once fixed, quiet


def test_a_private_home_is_left_alone(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    home_path = tmp_path / "home"
    home_path.mkdir(mode=0o700)
    with caplog.at_level(logging.WARNING, logger="onshore.store"), open_home(home_path) as home:
        assert home.subject_ref(VINS[0]).startswith("vin:")
    assert not caplog.records and mode(home_path) == 0o700
