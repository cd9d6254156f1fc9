"""Runners over parts of one stream merge into the figures of the whole (what Spark relies on).

The demo fleet is split by vehicle into parts (each part in vehicle order, as a partitioned
runner sees it), each part desensitized by its own runner, the parts merged into a fresh one:
the rows released, and the whole risk report, equal one runner over the whole table.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import yaml

import onshore
from onshore.demo import DemoSummary
from onshore.desensitize import Desensitizer
from onshore.desensitize.risk import UnicityMeter
from onshore.keystore import Key
from onshore.packs.profiles import Unicity

from .conftest import areas_of


def _rows(batches: list[pa.RecordBatch]) -> list[tuple[object, ...]]:
    if not batches:
        return []
    table = pa.Table.from_batches(batches)
    return sorted((tuple(r.values()) for r in table.to_pylist()), key=lambda r: tuple(map(repr, r)))


def aggregate_k2(pack: onshore.Pack, folder: Path) -> Path:
    """export-aggregate with k = 2, so that a small fleet releases groups."""
    data = pack.profile("export-aggregate").model_dump(mode="json", exclude_none=True)
    data["name"] = "aggregate-k2"
    data["steps"][-1]["k"] = 2
    (folder / "aggregate-k2.yaml").write_text(yaml.safe_dump(data))
    return folder / "aggregate-k2.yaml"


@pytest.mark.parametrize(
    "name", ["internal-analytics", "export-default", "export-aggregate", "aggregate-k2"]
)
def test_parts_merge_into_the_whole(
    small_fleet: DemoSummary, key: Key, pack: onshore.Pack, name: str, tmp_path: Path
) -> None:
    table = pq.read_table(small_fleet.files["telemetry.parquet"])
    areas = areas_of(small_fleet, pack)
    profile = pack.profile(aggregate_k2(pack, tmp_path) if name == "aggregate-k2" else name)
    whole = Desensitizer(profile, pack, key=key, areas=areas)
    expected = [b for batch in table.to_batches() for b in whole.push(batch)]
    expected += whole.finish()

    vins = sorted(set(table.column("vin").to_pylist()))
    groups = [vins[0::3], vins[1::3], vins[2::3], []]  # the last part is empty
    template = pickle.dumps(Desensitizer(profile, pack, key=key, areas=areas))
    merged = pickle.loads(template)
    got = []
    for group in groups:
        part = pickle.loads(template)
        rows = table.filter(pc.is_in(table.column("vin"), pa.array(group, pa.string())))
        for batch in rows.to_batches(max_chunksize=1500):
            got += part.push(batch)
        got += part.finish(part=True)
        merged.merge(pickle.loads(pickle.dumps(part.part())))
    got += merged.finish()
    assert _rows(got) == _rows(expected)
    a, b = merged.report().to_dict(), whole.report().to_dict()
    assert a == b
    if name == "aggregate-k2":
        assert a["rows"]["out"] > 0 and a["operators"][-1]["details"]["presence"]["groups"]


def test_unicity_does_not_depend_on_the_order_of_subjects() -> None:
    spec = Unicity(cell_m=100, bucket_s=60, points=[2], samples=3, seed=1)
    rng = np.random.default_rng(0)
    n = 400
    who = np.array([f"s{i % 9}" for i in range(n)], dtype=object)
    lon = 116.0 + rng.integers(0, 4, n) * 0.002
    lat = np.full(n, 40.0)
    ts = rng.integers(0, 5, n) * 60_000
    forward, backward = UnicityMeter(spec), UnicityMeter(spec)
    forward.add(who, who, lon, lat, ts)
    order = np.argsort(who)[::-1]
    backward.add(who[order], who[order], lon[order], lat[order], ts[order])
    assert forward.result() == backward.result()
