"""The ingestor: decode, quarantine, idempotent keys, the shared pipeline, crash recovery."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ingest_support import T0_MS, gbt_frame, json_message, vin

from onshore.ingest import Ingestor, KeyIndex, decode_gbt32960, decode_json, recover
from onshore.ingest.recovery import file_keys
from onshore.ledger import Activity
from onshore.store import DataHome, Lake


@pytest.fixture
def home(tmp_path: Path):
    with DataHome(tmp_path / "home", environ={}) as h:
        yield h


def _lake_keys(home: DataHome, dataset: str) -> list[tuple[str, int, str]]:
    keys: list[tuple[str, int, str]] = []
    for f in Lake(home).files(dataset=dataset):
        root = home.store(f.store).root
        keys.extend(file_keys(root / f.path))
        assert pq.ParquetFile(root / f.path).metadata.num_rows == f.rows
    return keys


def test_decode_json_flattens_and_keys() -> None:
    d = decode_json([json_message(1, 0), json_message(2, 1), b"[1]", b'{"vin": "X"}'])
    assert d.table.num_rows == 2
    assert "Vehicle.Speed" in d.table.schema.names
    assert d.table.schema.field("ts").type == pa.timestamp("ms", tz="UTC")
    assert d.keys == [(vin(1), T0_MS, "json"), (vin(2), T0_MS + 1000, "json")]
    assert [(r.index, r.field) for r in d.rejected] == [(2, None), (3, "ts")]


def test_decode_gbt32960_per_message_errors() -> None:
    good = gbt_frame(1, 0)
    bad = good[:-1] + bytes([good[-1] ^ 0xFF])
    d = decode_gbt32960([good, bad, good[:30], gbt_frame(2, 5, command=3)])
    assert d.table.num_rows == 2
    assert d.keys == [(vin(1), T0_MS, "gbt32960:2"), (vin(2), T0_MS + 5000, "gbt32960:3")]
    assert [(r.index, r.field) for r in d.rejected] == [(1, "bcc"), (2, d.rejected[1].field)]


def test_batches_are_idempotent_and_bad_messages_quarantined(home: DataHome) -> None:
    ing = Ingestor(home, worker="test")
    first = ing.ingest("telemetry", "json", [json_message(i, 0) for i in range(5)] + [b"nope"])
    assert (first.stored, first.rejected, first.duplicates) == (5, 1, 0)
    again = ing.ingest("telemetry", "json", [json_message(i, 0) for i in range(3, 8)])
    assert (again.stored, again.duplicates) == (3, 2)
    within = ing.ingest("telemetry", "json", [json_message(9, 0), json_message(9, 0)])
    assert (within.stored, within.duplicates) == (1, 1)
    keys = _lake_keys(home, "telemetry")
    assert len(keys) == len(set(keys)) == 9
    lines = (home.path / "quarantine" / "ingest-telemetry.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["reason"].startswith("not JSON")
    kinds = [e.kind for _i, e in home.ledger.entries()]
    assert kinds.count(Activity.STORAGE) == 3 and kinds.count(Activity.COLLECTION) == 3


def test_gbt32960_rows_go_through_the_pipeline(home: DataHome) -> None:
    ing = Ingestor(home, worker="test")
    out = ing.ingest("gbt32960", "gbt32960", [gbt_frame(i, 0) for i in range(4)])
    assert out.stored == 4 and out.level is not None
    dup = ing.ingest("gbt32960", "gbt32960", [gbt_frame(0, 0), gbt_frame(0, 0, command=3)])
    assert (dup.stored, dup.duplicates) == (1, 1)


def test_recovery_keeps_stored_keys_and_releases_the_rest(home: DataHome) -> None:
    ing = Ingestor(home, worker="w1")
    ing.ingest("telemetry", "json", [json_message(i, 0) for i in range(3)])
    # A worker that died after the lake commit but before confirming its batch:
    index = KeyIndex(home, "w1")
    keys = [(vin(i), T0_MS + 1000, "json") for i in range(4)]
    claim = index.claim("telemetry", "national_monitoring", keys)
    from onshore.pipeline import ingest

    table = decode_json([json_message(i, 1) for i in range(2)]).table
    batches = [(b, None) for b in table.to_batches()]
    ingest(home, batches, dataset="telemetry", purpose="national_monitoring")
    settled = recover(index)
    assert [(s.batch, s.found, s.released) for s in settled] == [(claim.batch, 2, 2)]
    assert not settled[0].ledger_entry_added  # the pipeline had written its storage entry
    assert index.pending() == []
    # Redelivery: the two stored rows are duplicates, the two released ones are stored now.
    redo = ing.ingest("telemetry", "json", [json_message(i, 1) for i in range(4)])
    assert (redo.stored, redo.duplicates) == (2, 2)
    lake = _lake_keys(home, "telemetry")
    assert len(lake) == len(set(lake)) == 7


def test_recovery_removes_a_file_that_was_never_indexed(home: DataHome, tmp_path: Path) -> None:
    ing = Ingestor(home, worker="w2")
    ing.ingest("telemetry", "json", [json_message(0, 0)])
    index = KeyIndex(home, "w2")
    claim = index.claim("telemetry", "national_monitoring", [(vin(5), T0_MS, "json")])
    root = home.store().root
    src = next(root.glob("dataset=telemetry/date=*/part-*.parquet"))
    orphan = src.with_name("part-orphan.parquet")
    table = pq.read_table(src)
    table = table.set_column(0, "vin", pa.array([vin(5)]))
    pq.write_table(table.replace_schema_metadata(pq.read_schema(src).metadata), orphan)
    settled = recover(index)
    assert settled[0].batch == claim.batch and settled[0].removed_unindexed
    assert not orphan.exists() and index.keys_of(claim.batch) == set()
