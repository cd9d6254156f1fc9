"""Crash recovery on a lake that is not on the local disk (an in-memory fsspec file system with
no rename, as an object store): the batch a dead worker left pending is settled by reading the
store's lake through its file system: the rows found in an indexed file stay stored, an
unindexed file holding the batch's rows is removed, the rest are released for redelivery."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import fsspec
import pyarrow as pa
import pyarrow.fs as pafs
from ingest_support import T0, T0_MS, vin

from onshore.ingest import KeyIndex, recover
from onshore.ingest.recovery import dataset_files, lake_file_keys
from onshore.pipeline import ingest as run_pipeline
from onshore.store import DataHome
from onshore.store.fs import register_filesystem

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "store"))
from lake_fs_support import no_rename


def rows(first: int, last: int) -> pa.Table:
    return pa.table(
        {
            "vin": [vin(i) for i in range(first, last)],
            "ts": pa.array([T0] * (last - first), pa.timestamp("ms", "UTC")),
            "soc": [80.0] * (last - first),
        }
    )


def test_a_dead_workers_batch_is_settled_on_an_object_store(tmp_path: Path) -> None:
    tag = f"ingestmem{uuid.uuid4().hex[:8]}"
    fs, handler = no_rename(pafs.PyFileSystem(pafs.FSSpecHandler(fsspec.filesystem("memory"))))
    register_filesystem(tag, lambda uri, fs=fs: (fs, f"{tag}/lake"))
    with DataHome(tmp_path / "home", environ={"ONSHORE_JURISDICTION": "CN"}) as home:
        home.add_store("obj", jurisdiction="CN", location="object storage", path=f"{tag}://x")
        keys = [(vin(i), T0_MS, "json") for i in range(6)]
        index = KeyIndex(home, "dead-worker")
        claim = index.claim("telemetry", "national_monitoring", keys)
        # What the worker did before it died: rows 0-2 stored and indexed; rows 3-4 written
        # to a file that was never indexed; row 5 never written.
        run_pipeline(
            home,
            [(b, None) for b in rows(0, 3).to_batches()],
            dataset="telemetry",
            purpose="national_monitoring",
            store="obj",
        )
        root = home.store("obj").lake
        orphan = f"dataset=telemetry/date={T0.date().isoformat()}/part-orphan.parquet"
        root.write_table(orphan, rows(3, 5))
        assert len(dataset_files(root, "telemetry")) == 2

        (settled,) = recover(index)

        assert (settled.batch, settled.found, settled.released) == (claim.batch, 3, 3)
        assert settled.removed_unindexed == (orphan,)
        assert dataset_files(root, "telemetry") == list(settled.files)
        assert lake_file_keys(root, settled.files[0]) == set(keys[:3])
        assert index.pending() == []
        again = KeyIndex(home, "next").claim("telemetry", "national_monitoring", keys)
        assert again.new == [False] * 3 + [True] * 3
    assert handler.moves == 0
