"""The ``adaptive`` engine (issue 21): NumPy first, compiled once NumPy has taken long enough;
the same answers before and after the switch."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from shapely.geometry import Polygon

import onshore.geo.index as index_mod
from onshore.geo import AreaCatalogue, AreaIndex
from onshore.geo.areas import Area
from onshore.geo.index import _kernels


def _catalogue(rng: np.random.Generator, n: int = 60) -> AreaCatalogue:
    areas = []
    for i, (x, y, r, b) in enumerate(
        zip(
            rng.uniform(116, 116.2, n),
            rng.uniform(39.9, 40.05, n),
            rng.uniform(0.0005, 0.01, n),
            rng.choice([0.0, 30.0, 400.0], n),
            strict=True,
        )
    ):
        ang = np.sort(rng.uniform(0, 2 * np.pi, 12))
        rad = r * rng.uniform(0.5, 1.0, 12)
        poly = Polygon(np.column_stack([x + rad * np.cos(ang), y + rad * np.sin(ang)]))
        areas.append(Area(f"a{i}", "military_zone", f"area {i}", float(b), None, poly))
    return AreaCatalogue(tuple(areas))


@pytest.mark.parametrize("switch_s", [0.0, 1e9])
def test_adaptive_answers_like_numpy_before_and_after_the_switch(
    monkeypatch: pytest.MonkeyPatch, switch_s: float
) -> None:
    monkeypatch.setattr(index_mod, "ADAPTIVE_SWITCH_S", switch_s)
    rng = np.random.default_rng(5)
    cat = _catalogue(rng)
    adaptive = AreaIndex.build(cat, engine="adaptive")
    reference = AreaIndex.build(cat, engine="numpy")
    assert adaptive.engine == "numpy"
    for _ in range(3):
        lon, lat = rng.uniform(115.99, 116.21, 20_000), rng.uniform(39.89, 40.06, 20_000)
        lon[::97] = np.nan
        a, b = adaptive.lookup(lon, lat), reference.lookup(lon, lat)
        for name in ("area", "inside", "invalid"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        np.testing.assert_allclose(a.distance_m, b.distance_m, rtol=0, atol=1e-9)
    switched = switch_s == 0.0 and _kernels() is not None
    assert adaptive.engine == ("numba" if switched else "numpy")
    clone = pickle.loads(pickle.dumps(adaptive))
    np.testing.assert_array_equal(clone.lookup(lon, lat).area, a.area)


def test_unknown_engine_is_refused() -> None:
    with pytest.raises(ValueError, match="adaptive"):
        AreaIndex.build(AreaCatalogue(()), engine="fastest")
