"""WGS-84 ↔ GCJ-02: the compiled and NumPy engines, the inverse's accuracy, the conventions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import onshore.geo.crs as crs
from onshore.errors import BadInput
from onshore.geo.crs import gcj02_offset, gcj02_to_wgs84, to_wgs84, wgs84_to_gcj02
from onshore.geo.ellipsoid import metres_per_degree

ENGINES = ["numpy", "compiled"]


@pytest.fixture(params=ENGINES)
def engine(request, monkeypatch):
    if request.param == "numpy":
        monkeypatch.setattr(crs, "_kernels", lambda: None)
    elif crs._kernels() is None:
        pytest.skip("numba not installed")
    return request.param


def error_m(lon, lat, lon2, lat2):
    kx, ky = metres_per_degree(lat)
    return np.hypot((lon2 - lon) * kx, (lat2 - lat) * ky)


@pytest.mark.parametrize("n", [1000, 200_000])
def test_forward_matches_the_reference_formula(engine, n):
    rng = np.random.default_rng(5)
    lon, lat = rng.uniform(72.1, 137.8, n), rng.uniform(0.9, 55.8, n)
    gx, gy = wgs84_to_gcj02(lon, lat)
    dx, dy = gcj02_offset(lon, lat)
    assert error_m(lon + dx, lat + dy, gx, gy).max() < 1e-6
    shift = error_m(lon, lat, gx, gy)
    assert shift.min() > 1.0 and shift.max() < 1000.0


@pytest.mark.parametrize("n", [1000, 200_000])
def test_inverse_is_accurate(engine, n):
    rng = np.random.default_rng(6)
    lon, lat = rng.uniform(72.1, 137.8, n), rng.uniform(0.9, 55.8, n)
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert error_m(lon, lat, *back).max() < 0.01


@settings(max_examples=200, deadline=None)
@given(st.floats(72.1, 137.8), st.floats(0.9, 55.8))
def test_round_trip_within_half_a_metre(lon, lat):
    x, y = gcj02_to_wgs84(*wgs84_to_gcj02([lon], [lat]))
    assert error_m(lon, lat, x[0], y[0]) < 0.5


def test_outside_china_is_unshifted_and_nan_stays_nan(engine):
    lon = np.array([2.35, -74.0, 150.0, 116.4, np.nan, 116.4])
    lat = np.array([48.85, 40.7, -33.9, 60.0, 39.9, np.nan])
    for f in (wgs84_to_gcj02, gcj02_to_wgs84):
        x, y = f(lon, lat)
        np.testing.assert_array_equal(x[:4], lon[:4])
        np.testing.assert_array_equal(y[:4], lat[:4])
        assert np.isnan(x[4]) or np.isnan(y[4])
        assert np.isnan(x[5]) or np.isnan(y[5])


def test_to_wgs84_per_row_and_scalar():
    glon, glat = wgs84_to_gcj02([116.4, 121.47], [39.9, 31.23])
    lon = np.array([glon[0], 116.4, glon[1], np.nan, 190.0])
    lat = np.array([glat[0], 39.9, glat[1], 39.9, 0.0])
    x, y, bad = to_wgs84(lon, lat, ["gcj02", "wgs84", "GCJ-02", "gcj02", None])
    assert bad.tolist() == [False, False, False, True, True]
    want_lon, want_lat = np.array([116.4, 116.4, 121.47]), np.array([39.9, 39.9, 31.23])
    assert error_m(want_lon, want_lat, x[:3], y[:3]).max() < 0.01
    assert np.isnan(x[3:]).all() and np.isnan(y[3:]).all()
    x2, _, bad2 = to_wgs84(lon[:3], lat[:3], "wgs84")
    np.testing.assert_array_equal(x2, lon[:3])
    assert not bad2.any()
    x3, _, _ = to_wgs84(glon, glat, "gcj02")
    assert abs(x3[0] - 116.4) < 1e-7


def test_unknown_crs_names_the_row():
    with pytest.raises(BadInput) as info:
        to_wgs84([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], ["wgs84", "wgs84", "bd09"])
    assert (info.value.record, info.value.field) == (2, "crs")
    assert "bd09" in str(info.value)
    with pytest.raises(BadInput):
        to_wgs84([1.0], [1.0], "utm")
    with pytest.raises(ValueError):
        to_wgs84([1.0], [1.0], ["wgs84", "wgs84"])
