"""A lake dataset as one Parquet file, for the transfer gate (which reads a file).

The gate classifies what would leave, for real; a lake dataset is many files (per store, per
date) whose schemas may differ a little (a signal that appears later). They are written, in
order, to one file under one unified schema (missing columns as nulls), batch by batch, so
memory stays bounded. The label columns the lake adds (``onshore_level`` …) are dropped: the
gate labels again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from onshore.classify import LABEL_COLUMNS
from onshore.errors import BadInput
from onshore.store import DataHome, Lake
from onshore.store.fs import LakeRoot


def dataset_files(home: DataHome, dataset: str, store: str | None = None) -> list[LakeFileRef]:
    """The indexed lake files of ``dataset`` (optionally of one store), in order."""
    stores = {s.name: s for s in home.stores()}
    if store is not None and store not in stores:
        raise BadInput(f"no store {store!r} (declared: {', '.join(stores)})", field="store")
    files = Lake(home).files(dataset=dataset, store=store)
    return [LakeFileRef(stores[f.store].lake, f.path) for f in files if f.store in stores]


@dataclass(frozen=True)
class LakeFileRef:
    """One lake file on its store's file system."""

    root: LakeRoot
    path: str

    def exists(self) -> bool:
        return self.root.exists(self.path)


def snapshot_dataset(home: DataHome, dataset: str, target: Path, store: str | None = None) -> Path:
    """Write every row of ``dataset`` to ``target`` (Parquet); ``BadInput`` if it has none."""
    refs = [r for r in dataset_files(home, dataset, store) if r.exists()]
    if not refs:
        raise BadInput(
            f"no file and no dataset {dataset!r} in the lake (onshore store ls, GET /v1/datasets)",
            field="dataset",
        )
    schemas = [r.root.read_schema(r.path).remove_metadata() for r in refs]
    try:
        unified = pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise BadInput(f"the files of {dataset!r} do not share a schema: {exc}") from exc
    keep = pa.schema([f for f in unified if f.name not in LABEL_COLUMNS])
    target.parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(target, keep, compression="zstd") as writer:
        for ref in refs:
            source = ref.root.parquet_file(ref.path)
            # Only the kept columns: a nested label column (onshore_reasons) over a large row
            # group cannot be read in batches ("nested data conversions not implemented").
            wanted = [n for n in source.schema_arrow.names if n in keep.names]
            for batch in source.iter_batches(batch_size=65_536, columns=wanted):
                columns = [
                    batch.column(f.name).cast(f.type)
                    if f.name in batch.schema.names
                    else pa.nulls(batch.num_rows, f.type)
                    for f in keep
                ]
                writer.write_batch(pa.RecordBatch.from_arrays(columns, schema=keep))
    return target
