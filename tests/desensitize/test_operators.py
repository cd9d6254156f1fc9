"""Operators: vectorized equals row-by-row, idempotent where it makes sense (property tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import onshore
from onshore.desensitize import pseudonym_key
from onshore.desensitize.grid import MetricGrid
from onshore.desensitize.layout import SUBJECT, TRIP, Layout
from onshore.desensitize.operators.fields import (
    Bucket,
    BucketParams,
    BucketTime,
    BucketTimeParams,
    Drop,
    DropParams,
    Round,
    RoundParams,
)
from onshore.desensitize.operators.location import (
    Generalize,
    GeneralizeParams,
    TransformCrs,
    TransformCrsParams,
)
from onshore.desensitize.operators.pseudonym import Pseudonymize, PseudonymizeParams, pseudonym
from onshore.desensitize.trips import Trim, Trips, TripsParams
from onshore.keystore import HMAC_KEY, Key, Keystore

PACK = onshore.load_pack()
FLOATS = st.floats(-1e6, 1e6, allow_nan=False)
LONS = st.floats(73.0, 135.0)
LATS = st.floats(18.0, 53.0)


def layout(batch: pa.RecordBatch) -> Layout:
    plan = onshore.classify(batch.slice(0, 0), PACK).assessment  # labels via the pack
    cats = {f.name: f.category for f in plan.fields}
    return Layout(
        names=tuple(batch.schema.names),
        categories=cats,
        ts="ts" if "ts" in cats else None,
        lat="lat" if "lat" in cats else None,
        lon="lon" if "lon" in cats else None,
        crs="crs" if "crs" in cats else None,
        trace="vin" if "vin" in cats else None,
    )


def run(op: object, batch: pa.RecordBatch) -> pa.RecordBatch:
    op.bind(layout(batch))  # type: ignore[attr-defined]
    return op.apply(batch)  # type: ignore[attr-defined, no-any-return]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.one_of(st.none(), FLOATS), min_size=1, max_size=50), st.sampled_from([0.1, 1, 5])
)
def test_round_is_idempotent_and_matches_reference(values: list[float | None], step: float) -> None:
    batch = pa.record_batch({"speed": pa.array(values, pa.float64())})
    op = Round(RoundParams(fields=["speed"], step=step), PACK)
    once = run(op, batch)
    assert run(op, once).equals(once)
    expected = [None if v is None else round(v / step) * step for v in values]
    got = once.column(0).to_pylist()
    for e, g in zip(expected, got, strict=True):
        assert (e is None and g is None) or abs(e - g) <= 1e-9 * max(1, abs(e))  # type: ignore[operator]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), FLOATS), min_size=1, max_size=50))
def test_bucket_is_idempotent_and_matches_reference(values: list[float | None]) -> None:
    edges = [-100.0, 0.0, 30.0, 60.0, 1000.0]
    batch = pa.record_batch({"speed": pa.array(values, pa.float64())})
    op = Bucket(BucketParams(fields=["speed"], edges=edges), PACK)
    once = run(op, batch)
    assert run(op, once).equals(once)
    for v, g in zip(values, once.column(0).to_pylist(), strict=True):
        below = [e for e in edges if v is not None and e <= v]
        assert g == (below[-1] if below else None)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-(10**12), 4 * 10**12), min_size=1, max_size=50))
def test_bucket_time_is_idempotent(ms: list[int]) -> None:
    ts = pa.array(ms, pa.int64()).cast(pa.timestamp("ms", tz="UTC"))
    batch = pa.record_batch({"ts": ts})
    op = BucketTime(BucketTimeParams(every_s=900))
    once = run(op, batch)
    assert run(op, once).equals(once)
    assert once.column(0).cast(pa.int64()).to_pylist() == [m // 900_000 * 900_000 for m in ms]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(LONS, LATS), min_size=1, max_size=40), st.sampled_from([50, 500, 2000]))
def test_grid_is_idempotent_and_moves_points_at_most_half_a_diagonal(
    points: list[tuple[float, float]], size: int
) -> None:
    lon = np.array([p[0] for p in points])
    lat = np.array([p[1] for p in points])
    grid = MetricGrid(float(size))
    x, y = grid.snap(lon, lat)
    x2, y2 = grid.snap(x, y)
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    from onshore.geo.ellipsoid import metres_per_degree

    kx, ky = metres_per_degree(lat)
    moved = np.hypot((x - lon) * kx, (y - lat) * ky)
    assert (moved <= grid.max_displacement_m()).all()


def chain(ops: list[object], batch: pa.RecordBatch) -> pa.RecordBatch:
    """Bind ``ops`` one after the other as a runner does (each sees the layout the one before
    made), then run them."""
    current = layout(batch)
    for op in ops:
        current = op.bind(current)  # type: ignore[attr-defined]
    for op in ops:
        batch = op.apply(batch)  # type: ignore[attr-defined]
    return batch


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(LONS, LATS), min_size=1, max_size=40))
def test_generalize_and_gcj02_are_idempotent(points: list[tuple[float, float]]) -> None:
    batch = pa.record_batch({"lon": [p[0] for p in points], "lat": [p[1] for p in points]})

    def ops() -> list[object]:
        return [
            Generalize(GeneralizeParams(grid_m=500), None),
            TransformCrs(TransformCrsParams(to="gcj02")),
        ]

    once = chain(ops(), batch)
    twice = chain(ops(), once)
    for name in ("lon", "lat"):
        values = once.column(name).to_numpy()
        np.testing.assert_array_equal(twice.column(name).to_numpy(), values)
        # the grid's precision (4 decimals for 500 m cells), GCJ-02 or not
        np.testing.assert_array_equal(np.round(values, 4), values)
    assert once.column("crs").to_pylist() == ["gcj02"] * len(points)
    back = run(TransformCrs(TransformCrsParams(to="wgs84")), once)
    snapped = run(Generalize(GeneralizeParams(grid_m=500), None), batch)
    np.testing.assert_allclose(
        back.column("lat").to_numpy(), snapped.column("lat").to_numpy(), atol=1e-4 + 5e-6
    )  # both centres rounded (< 6 m each) and the GCJ-02 round trip (< 0.5 m)


def test_grid_centres_round_to_the_grid_precision_and_stay_distinct() -> None:
    grid = MetricGrid(500.0)
    rows, cols = np.meshgrid(np.arange(8800, 8900), np.arange(25000, 25100))
    lon, lat = grid.centres(rows.ravel(), cols.ravel())
    rlon, rlat = grid.round(lon), grid.round(lat)
    assert len(set(zip(rlon.tolist(), rlat.tolist(), strict=True))) == rows.size
    from onshore.geo.ellipsoid import metres_per_degree

    kx, ky = metres_per_degree(lat)
    assert (np.hypot((rlon - lon) * kx, (rlat - lat) * ky) <= 500 / 20 * np.sqrt(2)).all()


def test_drop_by_category_and_is_idempotent() -> None:
    batch = pa.record_batch(
        {"vin": ["LSVAU2180N2183294"], "phone": ["1"], "owner_name": ["x"], "soc": [50.0]}
    )
    op = Drop(DropParams(categories=["person"]), PACK)
    once = run(op, batch)
    assert once.schema.names == ["vin", "soc"]
    assert run(op, once).equals(once)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.sampled_from(["LSVAU2180N2183294", "LFV3A23C0J3012345", "x", None]),
        min_size=1,
        max_size=30,
    )
)
def test_pseudonyms_equal_the_row_by_row_reference(values: list[str | None]) -> None:
    key = Key(HMAC_KEY, "00112233aabbccdd", bytes(32))
    batch = pa.record_batch({"vin": pa.array(values, pa.string())})
    op = Pseudonymize(
        PseudonymizeParams(categories=["vehicle.identity.vin"], keep_wmi=True),
        PACK,
        key,
    )
    out = run(op, batch)
    assert out.schema.names == ["vin_pseudonym"]
    expected = [
        None
        if v is None
        else pseudonym(key, "vehicle.identity.vin", "", v, 16, v[:3] if len(v) == 17 else "")
        for v in values
    ]
    assert out.column(0).to_pylist() == expected
    # idempotent: the raw column is gone, a second pass leaves the pseudonyms alone
    assert run(op, out).equals(out)


def test_pseudonyms_stable_across_runners_and_change_on_rotation(tmp_path: Path) -> None:
    ks = Keystore(tmp_path / "keys", environ={})
    first = pseudonym_key(ks)
    assert first is not None
    again = pseudonym_key(Keystore(tmp_path / "keys", environ={}))  # another runner, same store
    env = Keystore(tmp_path / "other", environ={"ONSHORE_KEY_HMAC_SHA256": first.material.hex()})
    from_env = pseudonym_key(env)
    assert again == first and from_env is not None and from_env.key_id == first.key_id
    t = pa.table({"vin": ["LSVAU2180N2183294", "LFV3A23C0J3012345"]})
    a, _ = onshore.desensitize(t, "internal-analytics", keys=ks, areas=_no_areas())
    b, _ = onshore.desensitize(t, "internal-analytics", keys=from_env, areas=_no_areas())
    assert a.equals(b)
    ks.rotate(HMAC_KEY)
    c, report = onshore.desensitize(t, "internal-analytics", keys=ks, areas=_no_areas())
    assert report.key_ids != (first.key_id,)
    assert not set(a.column(0).to_pylist()) & set(c.column(0).to_pylist())
    old, _ = onshore.desensitize(
        t, "internal-analytics", keys=pseudonym_key(ks, first.key_id), areas=_no_areas()
    )
    assert old.equals(a)


def _no_areas() -> onshore.AreaCatalogue:
    return onshore.load_areas({"type": "FeatureCollection", "features": []})


def _trip_batch(ms: list[int], vins: list[str]) -> pa.RecordBatch:
    return pa.record_batch(
        {
            "ts": pa.array(ms, pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
            "lat": [40.0 + i * 1e-3 for i in range(len(ms))],
            "lon": [116.0] * len(ms),
            SUBJECT: vins,
        }
    )


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 3_000_000)), min_size=1, max_size=60),
    st.integers(1, 7),
)
def test_trips_are_the_same_in_any_batching(rows: list[tuple[str, int]], size: int) -> None:
    rows = sorted(set(rows), key=lambda r: (r[0], r[1]))
    batch = _trip_batch([r[1] for r in rows], [r[0] for r in rows])
    step = TripsParams(gap_s=120, trim=Trim(metres=150, seconds=30))

    def collect(parts: list[pa.RecordBatch]) -> list[tuple[str, int, int]]:
        op = Trips(step)
        op.bind(layout(batch.drop_columns([SUBJECT])).replace(ts="ts", lat="lat", lon="lon"))
        out = [op.apply(p) for p in parts] + [op.flush()]
        got = []
        for b in out:
            if b is not None:
                got += list(
                    zip(
                        b.column(SUBJECT).to_pylist(),
                        b.column("ts").cast(pa.int64()).to_pylist(),
                        b.column(TRIP).to_pylist(),
                        strict=True,
                    )
                )
        return sorted(got)

    whole = collect([batch])
    pieces = collect([batch.slice(i, size) for i in range(0, batch.num_rows, size)])
    assert whole == pieces


@pytest.mark.parametrize("profile", ["internal-analytics", "export-default"])
def test_profiles_on_an_empty_table(profile: str, key: Key) -> None:
    t = pa.table(
        {
            "vin": pa.array([], pa.string()),
            "ts": pa.array([], pa.timestamp("ms", "UTC")),
            "lat": pa.array([], pa.float64()),
            "lon": pa.array([], pa.float64()),
        }
    )
    safe, report = onshore.desensitize(t, profile, keys=key, areas=_no_areas())
    assert safe.num_rows == 0 and report.rows_in == 0
