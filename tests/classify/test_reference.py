"""The vectorized classifier equals the plain row-by-row reference on random tables."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import onshore
from onshore.geo import load_areas

from .reference import classify_row
from .vectors import VECTORS

PACK = onshore.load_pack()
AREAS = load_areas(VECTORS / "areas.geojson", kinds=PACK.area_buffers())
VINS = ["1M8GDM9AXKP042788", "LSVAU2180N2183291", "LFV2A21K6A3000001"]

COLUMNS: dict[str, Any] = {
    "vin": st.sampled_from(VINS),
    "speed": st.none() | st.floats(0, 200, allow_nan=False),
    "dashcam_video_uri": st.none() | st.just("clip.mp4"),
    "front_image_uri": st.none() | st.just("img.jpg"),
    "faces": st.none() | st.integers(0, 2),
    "plates": st.none() | st.integers(0, 2),
    "Vehicle.Cabin.Microphone.Audio": st.none() | st.just("a.wav"),
    "soc": st.none() | st.floats(0, 100, allow_nan=False),
    "mystery": st.none() | st.integers(0, 5),
    "station_load_kw": st.none() | st.floats(0, 500, allow_nan=False),
}
# near the two vector areas (mz-1 around 116.30-116.31 / 39.90-39.91 with 200 m buffer; gov-1
# with a hole), so every outcome (inside, buffer, hole, outside) is drawn often
POSITION = st.tuples(st.floats(116.295, 116.415), st.floats(39.895, 39.965))


@st.composite
def tables(draw: Any) -> pa.Table:
    names = draw(st.lists(st.sampled_from(sorted(COLUMNS)), unique=True, min_size=0, max_size=6))
    with_position = draw(st.booleans())
    n = draw(st.integers(1, 30))
    rows = []
    for _ in range(n):
        row = {name: draw(COLUMNS[name]) for name in names}
        if with_position:
            pos = draw(st.none() | POSITION)
            row["lat"], row["lon"] = (None, None) if pos is None else (pos[1], pos[0])
        rows.append(row)
    if not rows[0]:
        rows = [{"mystery": None} for _ in rows]
    return pa.Table.from_pylist(rows)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=tables(), batch=st.integers(1, 8))
def test_vectorized_equals_reference(table: pa.Table, batch: int) -> None:
    result = onshore.classify(table.to_batches(max_chunksize=batch), PACK, areas=AREAS)
    assert not result.bad
    levels = result.labels.column("onshore_level").to_pylist()
    reasons = result.labels.column("onshore_reasons").to_pylist()
    areas = result.labels.column("onshore_area").to_pylist()
    for i, row in enumerate(table.to_pylist()):
        expected = classify_row(row, PACK, AREAS)
        assert (levels[i], reasons[i], areas[i]) == expected, (i, row)
    top = max((onshore.Level.parse(x) for x in levels), default=onshore.Level.GENERAL)
    assert result.assessment.level >= top
    assert sum(result.assessment.rows_per_level.values()) == table.num_rows
