"""The lake on other file systems: the same code path on the local disk (pyarrow's
LocalFileSystem, by path and by ``file://`` URI) and through a file system with no rename (the
local disk under a folder, and an in-memory fsspec one), as an S3-compatible store has none.

No S3 server runs here: the S3 case is covered by what it shares with these (no rename, the
index as the commit point), not by an S3 endpoint.
"""

from __future__ import annotations

import itertools
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import fsspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from lake_fs_support import NoRenameHandler, no_rename
from store_support import VINS, open_home, write_telemetry

from onshore.cli import cli
from onshore.errors import BadInput, StorageError, StorageUnavailable
from onshore.pipeline import ingest
from onshore.store import DataHome, Lake
from onshore.store.fs import register_filesystem
from onshore.store.home import StoreInfo
from onshore.store.places import count_vin_bytes
from onshore.store.residency import table_level
from onshore.store.snapshot import snapshot_dataset
from onshore.store.subject import count_vin, delete_subject

KINDS = ("local-path", "file-uri", "no-rename-disk", "no-rename-memory")
_UNIQUE = itertools.count()


@dataclass
class Setup:
    home: DataHome
    store: str
    handler: NoRenameHandler | None

    @property
    def info(self) -> StoreInfo:
        return self.home.store(self.store)

    def objects(self) -> list[str]:
        """Every file under the store's root, as the file system lists it."""
        root = self.info.lake
        selector = pafs.FileSelector(root.base, recursive=True, allow_not_found=True)
        infos = root.fs.get_file_info(selector)
        return sorted(i.path for i in infos if i.type == pafs.FileType.File)

    def read_bytes(self, path: str) -> bytes:
        with self.info.lake.fs.open_input_stream(path) as stream:
            return bytes(stream.read())


@pytest.fixture(params=KINDS)
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Setup]:
    kind = request.param
    handler: NoRenameHandler | None = None
    n = next(_UNIQUE)
    if kind == "local-path":
        path = None
    elif kind == "file-uri":
        path = f"file://{tmp_path / 'elsewhere' / 'lake'}"
    elif kind == "no-rename-disk":
        (tmp_path / "disk").mkdir()
        fs, handler = no_rename(
            pafs.SubTreeFileSystem(str(tmp_path / "disk"), pafs.LocalFileSystem())
        )
        register_filesystem(f"t{n}disk", lambda uri, fs=fs: (fs, "bucket/lake"))
        path = f"t{n}disk://bucket/lake"
    else:
        memory = fsspec.filesystem("memory")
        fs, handler = no_rename(pafs.PyFileSystem(pafs.FSSpecHandler(memory)))
        register_filesystem(f"t{n}mem", lambda uri, fs=fs: (fs, f"test{n}/lake"))
        path = f"t{n}mem://test{n}/lake"
    with open_home(tmp_path / "home") as home:
        name = "local"
        if path is not None:
            name = "obj"
            home.add_store(name, jurisdiction="CN", location="object storage, Beijing", path=path)
        ingest(
            home,
            write_telemetry(tmp_path),
            dataset="telemetry",
            purpose="national_monitoring",
            store=name,
        )
        yield Setup(home, name, handler)


def _vin_hits(setup: Setup, vin: str) -> int:
    """The VIN in any object under the root: its bytes, or a cell of a Parquet file."""
    hits = 0
    for path in setup.objects():
        data = setup.read_bytes(path)
        hits += count_vin_bytes(data, vin)
        if path.endswith(".parquet"):
            table = pq.read_table(pa.BufferReader(data))
            for column in table.columns:
                if pa.types.is_string(column.type):
                    hits += int(pc.sum(pc.equal(column, vin)).as_py() or 0)
    return hits


def _indexed_rows(setup: Setup) -> dict[str, int]:
    lake = Lake(setup.home)
    out: dict[str, int] = {}
    for f in lake.files(store=setup.store):
        counts = pc.value_counts(lake.read_table(setup.info, f, columns=["vin"]).column("vin"))
        for item in counts.to_pylist():
            out[item["values"]] = out.get(item["values"], 0) + item["counts"]
    return out


def test_a_put_is_indexed_under_unique_names_without_a_rename(setup: Setup) -> None:
    files = Lake(setup.home).files(store=setup.store)
    assert [f.part_date for f in files] == ["2026-11-01", "2026-11-02"]
    assert _indexed_rows(setup) == dict.fromkeys(VINS, 3000)
    names = [f.path.rsplit("/", 1)[1] for f in files]
    assert all(n.startswith("part-") and n.endswith(".parquet") for n in names)
    listed = [p.lstrip("/") for p in setup.objects()]
    assert sorted(setup.info.lake.full(f.path).lstrip("/") for f in files) == listed
    if setup.handler is not None:
        assert setup.handler.moves == 0


def test_a_put_in_progress_or_aborted_is_never_seen(setup: Setup) -> None:
    lake = Lake(setup.home)
    source = lake.files(store=setup.store)[0]
    batch = lake.read_table(setup.info, source).to_batches()[0]
    staged = lake.stage("copy", store=setup.store, origin="CN", vin_column="vin", ts_column="ts")
    staged.add(batch)
    assert lake.files(dataset="copy") == []
    assert [f for _, f in lake.all_files() if f.dataset == "copy"] == []  # no footer yet
    staged.abort()
    assert not [p for p in setup.objects() if "dataset=copy" in p]

    again = lake.stage("copy", store=setup.store, origin="CN", vin_column="vin", ts_column="ts")
    again.add(batch)
    [stored] = again.commit(level=table_level(batch), categories=())
    assert [f.path for f in lake.files(dataset="copy")] == [stored.path]
    assert lake.read_table(setup.info, stored).num_rows == batch.num_rows


def test_erasure_swaps_the_index_then_deletes_so_no_byte_of_the_vin_is_left(
    setup: Setup,
) -> None:
    target = VINS[0]
    before = {f.path for f in Lake(setup.home).files(store=setup.store)}
    assert _vin_hits(setup, target) > 0  # the check can fail
    result = delete_subject(setup.home, target)
    assert result.rows_removed == {"telemetry": 3000} and result.rows_remaining == 0
    after = {f.path for f in Lake(setup.home).files(store=setup.store)}
    assert after and not after & before  # every file rewritten to a new name
    assert _vin_hits(setup, target) == 0
    assert len(setup.objects()) == len(after)  # the old objects are gone
    assert _indexed_rows(setup) == dict.fromkeys(VINS[1:], 3000)
    assert count_vin(setup.home, target)[0] == 0
    if setup.handler is not None:
        assert setup.handler.moves == 0


def test_a_crash_before_the_index_swap_keeps_the_old_files_indexed_and_whole(
    setup: Setup,
) -> None:
    before = Lake(setup.home).files(store=setup.store)
    objects = setup.objects()

    def crash(new: Path) -> None:
        raise OSError("power cut")

    with pytest.raises(StorageError):
        delete_subject(setup.home, VINS[0], before_replace=crash)
    assert Lake(setup.home).files(store=setup.store) == before
    assert setup.objects() == objects  # the new file went with the crash
    assert _indexed_rows(setup) == dict.fromkeys(VINS, 3000)
    delete_subject(setup.home, VINS[0])  # a retry completes
    assert _vin_hits(setup, VINS[0]) == 0


def test_a_transfer_snapshot_reads_the_lake_through_its_file_system(
    setup: Setup, tmp_path: Path
) -> None:
    out = snapshot_dataset(setup.home, "telemetry", tmp_path / "snap.parquet", store=setup.store)
    table = pq.read_table(out)
    assert table.num_rows == 9000 and "onshore_level" not in table.column_names
    assert sorted(pc.unique(table.column("vin")).to_pylist()) == sorted(VINS)


def test_a_lake_uri_that_cannot_be_opened_or_holds_a_password_is_refused_in_one_line(
    tmp_path: Path,
) -> None:
    with open_home(tmp_path / "home") as home:
        with pytest.raises(StorageUnavailable) as unknown:
            home.add_store(
                "far", jurisdiction="CN", location="nowhere", path="nosuchfs://host/lake?x=1"
            )
        with pytest.raises(BadInput) as secret:
            home.add_store(
                "far", jurisdiction="CN", location="nowhere", path="s3://key:s3cret@bucket/lake"
            )
        assert [s.name for s in home.stores()] == ["local"]
    assert str(unknown.value).startswith("cannot open the lake at nosuchfs://host/lake: ")
    assert "\n" not in str(unknown.value)
    assert "s3://***@bucket/lake" in str(secret.value) and "s3cret" not in str(secret.value)
    assert secret.value.field == "path"


def test_a_store_on_another_file_system_is_listed_by_its_uri(tmp_path: Path) -> None:
    memory = fsspec.filesystem("memory")
    fs, _ = no_rename(pafs.PyFileSystem(pafs.FSSpecHandler(memory)))
    register_filesystem("tlisted", lambda uri: (fs, "listed/lake"))
    with open_home(tmp_path / "home") as home:
        home.add_store(
            "obj", jurisdiction="CN", location="Beijing", path="tlisted://listed/lake?region=x"
        )
        info = home.store("obj")
        assert info.to_dict()["path"] == "tlisted://listed/lake"
        with pytest.raises(StorageError, match="needs a local lake"):
            _ = info.root
    result = CliRunner().invoke(
        cli, ["store", "ls", "--home", str(tmp_path / "home")], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert "tlisted://listed/lake" in result.output and "region" not in result.output


def test_an_object_store_that_cannot_be_reached_is_refused_when_declared(tmp_path: Path) -> None:
    """pyarrow's real S3 client against a port nothing listens on (no S3 server is faked)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    uri = f"s3://bucket/lake?endpoint_override=127.0.0.1:{port}&scheme=http&region=cn-north-1"
    with open_home(tmp_path / "home") as home:
        with pytest.raises(StorageUnavailable) as caught:
            home.add_store("far", jurisdiction="CN", location="Beijing", path=uri)
        assert [s.name for s in home.stores()] == ["local"]
    message = str(caught.value)
    assert message.startswith("cannot reach the lake at s3://bucket/lake: ")
    assert "\n" not in message
