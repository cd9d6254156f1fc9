"""Tallies of parts add up to the whole: the merge the Spark driver relies on (no Spark here)."""

from __future__ import annotations

from functools import reduce

import pyarrow as pa

import onshore
from onshore.classify.engine import Tally
from onshore.geo import load_areas

from .test_spark_scan import VECTORS, VINS


def test_parts_add_up_to_the_whole(pack: onshore.Pack) -> None:
    n = 90
    table = pa.table(
        {
            "vin": [VINS[i % 2] for i in range(n)],
            "ts": ["2026-11-02T08:00:00Z"] * n,
            "lat": [39.905 if i % 3 else 95.0 for i in range(n)],
            "lon": [116.305 + i * 1e-3 for i in range(n)],
            "user_id": [f"u{i % 7}" for i in range(n)],
            "mystery": list(range(n)),
        }
    )
    areas = load_areas(VECTORS / "areas.geojson", kinds=pack.area_buffers())
    whole = onshore.Classifier(pack, areas, subject="user_id")
    whole.classify_batch(table.to_batches()[0])
    parts = []
    for k in range(3):
        part = onshore.Classifier(pack, areas, subject="user_id")
        part.classify_batch(table.slice(k * 30, 30).to_batches()[0])
        parts.append(part.tally())
    merged = onshore.Classifier(pack, areas, subject="user_id")
    merged.plan_for(table.schema)
    merged.add_tally(reduce(Tally.__add__, parts, Tally()))
    expected = whole.assessment()
    got = merged.assessment(
        distinct_subjects=expected.distinct_subjects,
        distinct_vehicles=expected.distinct_vehicles,
    )
    assert got == expected
    assert got.rows_quarantined == 30 and got.areas_hit
    assert whole.tally() == reduce(Tally.__add__, parts)
