"""The area index against shapely as the oracle, plus invalid input, rules and pickling."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from _scenes import oracle, scenes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, Point, Polygon

import onshore.geo._exact as exact_mod
import onshore.geo._grid_numpy as grid_numpy
from onshore.geo import AreaCatalogue, AreaIndex
from onshore.geo.areas import Area
from onshore.geo.ellipsoid import metres_per_degree
from onshore.geo.index import _kernels

ENGINES = [
    "numpy",
    pytest.param(
        "numba", marks=pytest.mark.skipif(_kernels() is None, reason="numba not installed")
    ),
]


def cat_of(*specs: tuple[Polygon | MultiPolygon, float]) -> AreaCatalogue:
    return AreaCatalogue(
        tuple(
            Area(f"a{i}", "military_zone", f"area {i}", buf, None, g)
            for i, (g, buf) in enumerate(specs)
        ),
        None,
    )


def box(x0: float, y0: float, x1: float, y1: float) -> Polygon:
    return Polygon([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])


@pytest.mark.parametrize("engine", ENGINES)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scene=scenes(), cell_m=st.sampled_from([None, 15.0, 60.0, 300.0]))
def test_agrees_with_shapely(engine, scene, cell_m):
    cat, lon, lat = scene
    got = AreaIndex.build(cat, engine=engine, cell_m=cell_m).lookup(lon, lat)
    assert not got.invalid.any()
    checked = 0
    for k in range(len(lon)):
        area, inside, dist, ambiguous = oracle(cat, float(lon[k]), float(lat[k]))
        if ambiguous:
            continue
        checked += 1
        ctx = f"point {k} ({lon[k]!r}, {lat[k]!r})"
        assert got.area[k] == area, ctx
        assert got.inside[k] == inside, ctx
        if area < 0:
            assert math.isnan(got.distance_m[k]), ctx
        else:
            assert got.distance_m[k] == pytest.approx(dist, abs=1e-6), ctx
    assert checked > 0


@pytest.mark.parametrize("engine", ENGINES)
def test_invalid_points_are_flagged_and_never_matched(engine):
    idx = AreaIndex.build(engine=engine, catalogue=cat_of((box(-180, -90, 180, 90), 0.0)))
    lon = np.array([0.0, np.nan, 181.0, 0.0, -180.5, 0.0, 180.0, np.inf])
    lat = np.array([0.0, 0.0, 0.0, 90.5, 0.0, np.nan, -90.0, 0.0])
    m = idx.lookup(lon, lat)
    assert m.invalid.tolist() == [False, True, True, True, True, True, False, True]
    assert m.area.tolist() == [0, -1, -1, -1, -1, -1, 0, -1]
    assert not m.inside[m.invalid].any()
    assert np.isnan(m.distance_m[m.invalid]).all()


@pytest.mark.parametrize("engine", ENGINES)
def test_buffers_are_true_metres_at_the_points_latitude(engine):
    # A square at latitude 60; points due east of its east edge, just inside / outside 1 km.
    idx = AreaIndex.build(engine=engine, catalogue=cat_of((box(10.0, 59.9, 10.1, 60.1), 1000.0)))
    kx, _ = metres_per_degree(60.0)
    lon = 10.1 + np.array([999.0, 1001.0, 500.0]) / kx
    m = idx.lookup(lon, np.full(3, 60.0))
    assert m.area.tolist() == [0, -1, 0]
    assert m.distance_m[0] == pytest.approx(999.0, abs=1e-6)
    assert m.distance_m[2] == pytest.approx(500.0, abs=1e-6)
    assert not m.inside.any()


@pytest.mark.parametrize("engine", ENGINES)
def test_holes_and_priority_rules(engine):
    outer = [(0, 0), (1, 0), (1, 1), (0, 1)]
    hole = [(0.4, 0.4), (0.6, 0.4), (0.6, 0.6), (0.4, 0.6)]
    holed = Polygon(outer, [hole])
    inner = box(0.45, 0.45, 0.55, 0.55)  # sits in the hole
    cat = cat_of((holed, 0.0), (inner, 20_000.0), (box(0.0, 0.0, 0.2, 0.2), 0.0))
    m = AreaIndex.build(cat, engine=engine).lookup(
        np.array([0.5, 0.42, 0.1, 0.3, 5.0]), np.array([0.5, 0.5, 0.1, 0.5, 5.0])
    )
    # in the hole & inside 'inner'; in the hole, in inner's buffer; inside both 0 and 2 -> 0;
    # inside 0 and within inner's buffer -> inside wins; far away -> none.
    assert m.area.tolist() == [1, 1, 0, 0, -1]
    assert m.inside.tolist() == [True, False, True, True, False]
    assert m.distance_m[0] == 0.0 and m.distance_m[1] > 0.0


@pytest.mark.parametrize("engine", ENGINES)
def test_smaller_distance_then_file_order(engine):
    a = box(0.0, 0.0, 0.01, 0.01)
    b = box(0.02, 0.0, 0.03, 0.01)
    cat = cat_of((a, 5000.0), (b, 5000.0), (b, 5000.0))
    m = AreaIndex.build(cat, engine=engine).lookup(
        np.array([0.0121, 0.0179]), np.array([0.005, 0.005])
    )
    assert m.area.tolist() == [0, 1]


@pytest.mark.parametrize("engine", ENGINES)
def test_boundary_counts_as_inside(engine):
    cat = cat_of((box(1.0, 1.0, 2.0, 2.0), 0.0))
    m = AreaIndex.build(cat, engine=engine).lookup(
        np.array([1.0, 1.5, 2.0, 2.0000001]), np.array([1.0, 2.0, 1.3, 1.3])
    )
    assert m.area.tolist() == [0, 0, 0, -1]
    assert m.inside.tolist() == [True, True, True, False]


@pytest.mark.parametrize("engine", ENGINES)
@settings(max_examples=60, deadline=None)
@given(
    x0=st.floats(116.0, 116.5),
    y0=st.floats(39.7, 40.1),
    size=st.floats(1e-4, 0.02),
    f=st.floats(0.0, 1.0),
)
def test_points_exactly_on_edges_and_hole_edges_are_inside(engine, x0, y0, size, f):
    """Found by the classifier's property test: (116.4, 39.953125) on an edge, buffer 0."""
    x1, y1 = x0 + size, y0 + size
    hx0, hy0, hx1, hy1 = (x0 + 0.25 * size, y0 + 0.25 * size, x0 + 0.75 * size, y0 + 0.75 * size)
    outer = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    poly = Polygon(outer, [[(hx0, hy0), (hx1, hy0), (hx1, hy1), (hx0, hy1)]])
    cat = cat_of((poly, 0.0))
    ys, xs = y0 + f * (y1 - y0), x0 + f * (x1 - x0)
    hy = hy0 + f * (hy1 - hy0)
    lon = np.array([x0, x1, xs, xs, hx0, hx1, x0, x1])
    lat = np.array([ys, ys, y0, y1, hy, hy, y0, y1])
    m = AreaIndex.build(cat, engine=engine).lookup(lon, lat)
    expected = [bool(poly.covers(Point(a, b))) for a, b in zip(lon, lat, strict=True)]
    assert all(expected)
    assert m.area.tolist() == [0] * len(lon)
    assert m.inside.all() and (m.distance_m == 0.0).all()


def test_small_chunks_give_the_same_answer(monkeypatch):
    rng = np.random.default_rng(3)
    polys = [
        (box(x, y, x + 0.01, y + 0.01), float(b))
        for x, y, b in zip(
            rng.uniform(116, 116.1, 40),
            rng.uniform(39.9, 40, 40),
            rng.uniform(0, 300, 40),
            strict=True,
        )
    ]
    idx = AreaIndex.build(cat_of(*polys), engine="numpy")
    lon, lat = rng.uniform(115.99, 116.12, 5000), rng.uniform(39.89, 40.02, 5000)
    want = idx.lookup(lon, lat)
    monkeypatch.setattr(grid_numpy, "CHUNK_POINTS", 97)
    monkeypatch.setattr(grid_numpy, "BLOCK_PAIRS", 50)
    monkeypatch.setattr(exact_mod, "PAIR_SEGMENT_BUDGET", 13)
    got = AreaIndex.build(cat_of(*polys), engine="numpy").lookup(lon, lat)
    np.testing.assert_array_equal(got.area, want.area)
    np.testing.assert_array_equal(got.distance_m, want.distance_m)
    assert (want.area >= 0).any() and (want.area < 0).any()


@pytest.mark.parametrize("engine", ENGINES)
def test_pickle_round_trip(engine):
    cat = cat_of((box(116.0, 39.0, 116.1, 39.1), 100.0), (box(116.2, 39.0, 116.3, 39.1), 0.0))
    idx = AreaIndex.build(cat, engine=engine)
    clone = pickle.loads(pickle.dumps(idx))
    lon = np.array([116.05, 116.1005, 116.25, 117.0, np.nan])
    lat = np.array([39.05, 39.05, 39.05, 39.0, 39.0])
    a, b = idx.lookup(lon, lat), clone.lookup(lon, lat)
    for name in ("area", "inside", "distance_m", "invalid"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert clone.catalogue == cat
    assert a.area.dtype == np.int32


@pytest.mark.parametrize("engine", ENGINES)
def test_empty_catalogue_and_empty_input(engine):
    idx = AreaIndex.build(engine=engine, catalogue=cat_of())
    m = idx.lookup(np.array([1.0, np.nan]), np.array([1.0, 1.0]))
    assert m.area.tolist() == [-1, -1] and m.invalid.tolist() == [False, True]
    idx = AreaIndex.build(engine=engine, catalogue=cat_of((box(0, 0, 1, 1), 0.0)))
    assert len(idx.lookup(np.array([]), np.array([]))) == 0
    with pytest.raises(ValueError):
        idx.lookup(np.array([1.0]), np.array([1.0, 2.0]))


@pytest.mark.skipif(_kernels() is None, reason="numba not installed")
@pytest.mark.parametrize("n", [5_000, 300_000])
def test_compiled_engine_equals_numpy_engine(n):
    rng = np.random.default_rng(11)
    polys = []
    for x, y, r, b in zip(
        rng.uniform(116, 116.2, 300),
        rng.uniform(39.9, 40.05, 300),
        rng.uniform(0.0005, 0.01, 300),
        rng.choice([0.0, 30.0, 400.0], 300),
        strict=True,
    ):
        ang = np.sort(rng.uniform(0, 2 * np.pi, 12))
        rad = r * rng.uniform(0.5, 1.0, 12)
        polys.append((Polygon(np.column_stack([x + rad * np.cos(ang), y + rad * np.sin(ang)])), b))
    cat = cat_of(*polys)
    fast = AreaIndex.build(cat, engine="numba")
    slow = AreaIndex.build(cat, engine="numpy")
    assert (fast.engine, slow.engine) == ("numba", "numpy")
    lon, lat = rng.uniform(115.99, 116.21, n), rng.uniform(39.89, 40.06, n)
    lon[::97] = np.nan
    a, b = fast.lookup(lon, lat), slow.lookup(lon, lat)
    for name in ("area", "inside", "invalid"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    np.testing.assert_allclose(a.distance_m, b.distance_m, rtol=0, atol=1e-9)
    assert 0.05 < (a.area >= 0).mean() < 0.95
    clone = pickle.loads(pickle.dumps(fast))
    np.testing.assert_array_equal(clone.lookup(lon[:999], lat[:999]).area, a.area[:999])
