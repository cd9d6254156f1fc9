"""Geofence benchmark: Onshore's area index vs geopandas.sjoin vs shapely STRtree.query.

Workload (issue 3): 10,000 irregular areas (8-40 vertices, 50 m to 3 km across, buffers of
0-500 m) over 100 km x 100 km around lon 116.4, lat 39.9, and points from random-walk
trajectories; once as generated ("dense"), once with a sparse catalogue (the same areas
shrunk about their centres until about 1% of the points fall in one). Same data, same run.

    .venv/bin/python bench/geofence.py                 # 2 M points, peers on 500 k
    .venv/bin/python bench/geofence.py --full          # 10 M points, peers on 2 M

The peers get pre-buffered polygons (buffered once in local metres, not timed): what most
users do, and not exact (a polygonal buffer falls short of the true distance near vertices).
Their throughput is measured on a subset; ratios compare points per second.
"""

from __future__ import annotations

import argparse
import math
import resource
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import shapely
from shapely.geometry import Polygon

from onshore.geo import AreaCatalogue, AreaIndex, gcj02_to_wgs84, wgs84_to_gcj02
from onshore.geo.areas import Area
from onshore.geo.ellipsoid import metres_per_degree

LON0, LAT0 = 116.4, 39.9
KX, KY = (float(v) for v in metres_per_degree(LAT0))


def make_areas(n: int, half_m: float, rng: np.random.Generator, scale: float = 1.0) -> list[Area]:
    """``n`` star-shaped areas over a square of side 2*half_m metres, scaled about centres."""
    areas = []
    for i in range(n):
        k = int(rng.integers(8, 41))
        diameter = rng.uniform(50.0, 3000.0)
        cx, cy = rng.uniform(-half_m, half_m, 2)
        ang = np.sort(rng.uniform(0, 2 * math.pi, k))
        rad = 0.5 * diameter * rng.uniform(0.5, 1.0, k) * scale
        x = LON0 + (cx + rad * np.cos(ang)) / KX
        y = LAT0 + (cy + rad * np.sin(ang)) / KY
        buf = float(rng.choice([0.0, 0.0, 50.0, 100.0, 200.0, 500.0])) * scale
        poly = Polygon(np.column_stack([x, y]))
        if not poly.is_valid:  # rare: two vertices at the same angle
            poly = poly.convex_hull
        areas.append(Area(f"a{i}", "military_zone", f"area {i}", buf, None, poly))
    return areas


def random_walks(n: int, rng: np.random.Generator, steps: int = 1000) -> tuple[Any, Any]:
    """``n`` points from vehicles driving random walks (5-30 m a step) inside the square."""
    vehicles = max(1, n // steps)
    heading = rng.uniform(0, 2 * math.pi, (vehicles, 1)) + np.cumsum(
        rng.normal(0.0, 0.25, (vehicles, steps)), axis=1
    )
    speed = rng.uniform(5.0, 30.0, (vehicles, 1))
    x = rng.uniform(-50_000, 50_000, (vehicles, 1)) + np.cumsum(speed * np.cos(heading), axis=1)
    y = rng.uniform(-50_000, 50_000, (vehicles, 1)) + np.cumsum(speed * np.sin(heading), axis=1)
    x = np.abs((x + 50_000) % 200_000 - 100_000) - 50_000  # reflect at the square's edges
    y = np.abs((y + 50_000) % 200_000 - 100_000) - 50_000
    lon = (LON0 + x / KX).reshape(-1)[:n]
    lat = (LAT0 + y / KY).reshape(-1)[:n]
    return np.ascontiguousarray(lon), np.ascontiguousarray(lat)


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    """Best wall time of ``repeat`` runs, and the last result."""
    best = math.inf
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def prebuffer(areas: list[Area]) -> list[Any]:
    """Buffer each polygon by its buffer_m in local metres at its centroid (peers' input)."""
    out = []
    for a in areas:
        if a.buffer_m <= 0:
            out.append(a.geometry)
            continue
        c = a.geometry.centroid
        kx, ky = (float(v) for v in metres_per_degree(c.y))
        local = shapely.transform(
            a.geometry, lambda p, c=c, kx=kx, ky=ky: (p - [c.x, c.y]) * [kx, ky]
        )
        back = shapely.transform(
            local.buffer(a.buffer_m), lambda p, c=c, kx=kx, ky=ky: p / [kx, ky] + [c.x, c.y]
        )
        out.append(back)
    return out


def strtree_lookup(tree: Any, lon: Any, lat: Any) -> Any:
    """First matching area per point with shapely 2's STRtree (lowest index), -1 for none."""
    pts = shapely.points(lon, lat)
    pi, ai = tree.query(pts, predicate="intersects")
    out = np.full(len(lon), -1, dtype=np.int64)
    order = np.lexsort((ai, pi))
    pi, ai = pi[order], ai[order]
    first = np.ones(pi.size, dtype=bool)
    first[1:] = pi[1:] != pi[:-1]
    out[pi[first]] = ai[first]
    return out


def geopandas_lookup(gpd: Any, areas_gdf: Any, lon: Any, lat: Any) -> Any:
    """Matched-or-not per point with geopandas.sjoin (intersects)."""
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat))
    joined = gpd.sjoin(pts, areas_gdf, how="left", predicate="intersects")
    hit = joined["index_right"].notna().groupby(level=0).any()
    return hit.to_numpy()


def run_workload(
    name: str, areas: list[Area], lon: Any, lat: Any, args: Any, rows: list[Any]
) -> None:
    """Time Onshore (1 and all threads), then the peers on a subset, and print the split."""
    import numba

    cat = AreaCatalogue(tuple(areas), None)
    t_build, idx = timed(lambda: AreaIndex.build(cat))
    n = lon.size
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    idx.lookup(lon[:1000], lat[:1000])
    t1, m = timed(lambda: idx.lookup(lon, lat), args.repeat)
    numba.set_num_threads(threads)
    tn, m = timed(lambda: idx.lookup(lon, lat), args.repeat)
    hits = float((m.area >= 0).mean())
    g = idx.cells
    assert g is not None
    fx = np.floor((lon - g.x0) / g.cw)
    fy = np.floor((lat - g.y0) / g.ch)
    ok = (fx >= 0) & (fx < g.nx) & (fy >= 0) & (fy < g.ny)
    state = np.full(n, -1, dtype=np.int64)
    state[ok] = g.state[(fy[ok] * g.nx + fx[ok]).astype(np.int64)]
    mixed = state <= -2
    numba.set_num_threads(1)
    t_coarse, _ = timed(lambda: idx.lookup(lon[~mixed], lat[~mixed]), args.repeat)
    t_exact, _ = timed(lambda: idx.lookup(lon[mixed], lat[mixed]), args.repeat)
    numba.set_num_threads(threads)
    k = min(n, args.peer_points)
    rss_onshore = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t_np_build, slow = timed(lambda: AreaIndex.build(cat, engine="numpy"))
    t_np, m_np = timed(lambda: slow.lookup(lon[: k // 10], lat[: k // 10]))
    assert (m_np.area == m.area[: k // 10]).all(), "numpy and numba engines disagree"
    buffered = prebuffer(areas)
    tree = shapely.STRtree(buffered)
    t_tree, tree_area = timed(lambda: strtree_lookup(tree, lon[:k], lat[:k]))
    row = {
        "workload": name,
        "hits": hits,
        "build_s": t_build,
        "onshore_1": n / t1,
        "onshore_n": n / tn,
        "numpy": (k // 10) / t_np,
        "strtree": k / t_tree,
        "geopandas": math.nan,
        "disagree_strtree": float(((tree_area >= 0) != (m.area[:k] >= 0)).mean()),
        "mixed_share": float(mixed.mean()),
        "t_coarse": t_coarse,
        "t_exact": t_exact,
        "grid": g.stats(),
        "grid_mb": g.nbytes / 1e6,
        "threads": threads,
        "rss_onshore": rss_onshore,
        "numpy_build_s": t_np_build,
    }
    try:
        import geopandas as gpd

        areas_gdf = gpd.GeoDataFrame(geometry=buffered)
        t_gpd, gpd_hit = timed(lambda: geopandas_lookup(gpd, areas_gdf, lon[:k], lat[:k]))
        row["geopandas"] = k / t_gpd
        row["disagree_geopandas"] = float((gpd_hit != (m.area[:k] >= 0)).mean())
    except ImportError:
        print("(geopandas not installed: pip install 'onshore[bench]')")
    rows.append(row)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--points", type=int, default=2_000_000, help="points per workload")
    ap.add_argument("--peer-points", type=int, default=500_000, help="points for the peers")
    ap.add_argument("--areas", type=int, default=10_000)
    ap.add_argument("--full", action="store_true", help="10 M points, peers on 2 M")
    ap.add_argument("--repeat", type=int, default=3, help="best of N for Onshore timings")
    ap.add_argument("--no-100k", action="store_true", help="skip the 100,000-area build")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--sparse",
        choices=["spread", "shrink"],
        default="spread",
        help="how the ~1%% catalogue is made: areas over a wider square, or shrunk areas",
    )
    args = ap.parse_args()
    if args.full:
        args.points, args.peer_points = 10_000_000, 2_000_000
    rng = np.random.default_rng(args.seed)
    lon, lat = random_walks(args.points, rng)
    dense = make_areas(args.areas, 50_000, np.random.default_rng(args.seed + 1))
    sample = slice(0, min(lon.size, 300_000))

    def hit_rate(areas: list[Area]) -> float:
        index = AreaIndex.build(AreaCatalogue(tuple(areas), None))
        return float((index.lookup(lon[sample], lat[sample]).area >= 0).mean())

    # Sparse: the same kind of catalogue spread over a wider square ("spread", default: the
    # points' 100 km square then holds a few dozen of the 10,000 areas) or the same areas
    # shrunk about their centres ("shrink"), until about 1% of the points hit.
    factor = 1.0
    for _ in range(3):
        if args.sparse == "spread":
            sparse = make_areas(args.areas, 50_000 * factor, np.random.default_rng(args.seed + 1))
        else:
            sparse = make_areas(args.areas, 50_000, np.random.default_rng(args.seed + 1), factor)
        rate = hit_rate(sparse)
        step = math.sqrt(0.01 / max(rate, 1e-4))
        factor = factor / step if args.sparse == "spread" else factor * step
    label = (
        f"sparse ({100 * factor:.0f} km)" if args.sparse == "spread" else f"sparse (x{factor:.3f})"
    )
    rows: list[dict[str, Any]] = []
    run_workload("dense", dense, lon, lat, args, rows)
    run_workload(label, sparse, lon, lat, args, rows)
    report(rows, args)
    t_fwd, (gx, gy) = timed(lambda: wgs84_to_gcj02(lon, lat), args.repeat)
    t_inv, _ = timed(lambda: gcj02_to_wgs84(gx, gy), args.repeat)
    print(
        f"\nWGS-84 -> GCJ-02: {lon.size / t_fwd / 1e6:.1f} M points/s; "
        f"GCJ-02 -> WGS-84: {lon.size / t_inv / 1e6:.1f} M points/s (all threads)"
    )
    if not args.no_100k:
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(1) as pool:
            t, grid_mb, rss = pool.apply(build_100k, (args.seed,))
        print(
            f"index build, 100,000 areas over 316 km x 316 km: {t:.2f} s "
            f"(grid {grid_mb:.0f} MB; peak RSS of that process, areas included: {rss:.0f} MB)"
        )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"peak RSS of this process: {rss:.0f} MB overall, {rows[0]['rss_onshore']:.0f} MB "
        "before the peers ran (points, catalogue, index, results)"
    )


def build_100k(seed: int) -> tuple[float, float, float]:
    """Build time, grid MB and peak RSS for 100,000 areas (run in a fresh process)."""
    AreaIndex.build(AreaCatalogue(tuple(make_areas(20, 2_000, np.random.default_rng(0)))))
    cat = AreaCatalogue(tuple(make_areas(100_000, 158_000, np.random.default_rng(seed + 2))))
    t, idx = timed(lambda: AreaIndex.build(cat))
    assert idx.cells is not None
    return t, idx.cells.nbytes / 1e6, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(rows: list[dict[str, Any]], args: Any) -> None:
    """Print the throughput table, the ratios and where the time goes."""
    print(
        f"\n{args.points:,} random-walk points, {args.areas:,} areas; "
        f"peers on {min(args.points, args.peer_points):,} points; "
        f"numpy engine on {min(args.points, args.peer_points) // 10:,}\n"
    )
    head = (
        f"{'workload':<18}{'hits':>6}{'build s':>9}{'1 thread':>10}{'all':>9}{'numpy':>8}"
        f"{'STRtree':>9}{'geopandas':>10}{'x gpd (1t)':>11}{'x STR (1t)':>11}"
    )
    print(head + "\n" + "-" * len(head))
    for r in rows:
        print(
            f"{r['workload']:<18}{r['hits']:>6.1%}{r['build_s']:>9.2f}"
            f"{r['onshore_1'] / 1e6:>9.1f}M{r['onshore_n'] / 1e6:>8.1f}M{r['numpy'] / 1e6:>7.2f}M"
            f"{r['strtree'] / 1e6:>8.2f}M{r['geopandas'] / 1e6:>9.2f}M"
            f"{r['onshore_1'] / r['geopandas']:>10.0f}x{r['onshore_1'] / r['strtree']:>10.0f}x"
        )
    print("\nwhere the time goes (one thread):")
    for r in rows:
        gs = r["grid"]
        print(
            f"  {r['workload']}: build {r['build_s']:.2f} s (NumPy engine's build "
            f"{r['numpy_build_s']:.2f} s); grid {gs['cells']:,} cells "
            f"({gs['resolved']:.0%} resolved, {gs['empty']:.0%} empty, {gs['mixed']:.0%} mixed, "
            f"{gs['candidates_per_mixed']:.1f} candidates a mixed cell, {r['grid_mb']:.0f} MB); "
            f"{1 - r['mixed_share']:.0%} of points answered by lookup in {r['t_coarse']:.3f} s, "
            f"{r['mixed_share']:.0%} tested exactly in {r['t_exact']:.3f} s"
        )
        print(
            f"    peers disagree with the exact answer on {r['disagree_strtree']:.3%} (STRtree) / "
            f"{r.get('disagree_geopandas', math.nan):.3%} (geopandas) of points "
            "(pre-buffered polygons)"
        )


if __name__ == "__main__":
    main()
