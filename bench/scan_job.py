"""The whole `onshore scan` command against the script a user would otherwise write, and every
command's fixed cost.

What a user times is the command, not the kernel: start-up, imports, reading, classifying and
writing the labelled file. The peer is the usual geopandas script (run as its own process, as
`onshore scan` is): `pandas.read_parquet`, a level per present column, `geopandas.sjoin` of the
points against the areas buffered in UTM 50N, the labelled table written with `to_parquet`.
Both read the same slice of a 400-vehicle demo fleet (generated first when missing) and write
Parquet; timings are wall-clock of the whole process, alternated, best of ``--repeat``, in one
run. Then `onshore --help` against the import floor (`python -c "import pyarrow, numpy, click"`)
and `onshore VERB --help` for every verb: what each command costs before it does anything.

    .venv/bin/python bench/scan_job.py                       # 1 M and 5 M rows, best of 2
    .venv/bin/python bench/scan_job.py --rows 1000000 --repeat 3

Goals (issue 21): the whole scan at least 8x the peer at 5 M rows and 5x at 1 M rows;
`onshore --help` within 2x the import floor.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

PEER = r"""
import json, sys
import numpy as np, pandas as pd, geopandas as gpd
src, areas_path, out, spec_path = sys.argv[1:5]
spec = json.load(open(spec_path))
df = pd.read_parquet(src)
level = np.zeros(len(df), dtype=np.int8)
for name, lv in spec["levels"].items():
    level = np.maximum(level, np.where(df[name].notna().to_numpy(), lv, 0).astype(np.int8))
with open(areas_path) as fh:
    areas = gpd.GeoDataFrame.from_features(json.load(fh)["features"], crs="EPSG:4326")
areas = areas.to_crs("EPSG:32650")
areas["geometry"] = areas.geometry.buffer(areas["id"].map(spec["buffers"]).astype(float))
points = gpd.GeoDataFrame(
    geometry=gpd.points_from_xy(df["lon"], df["lat"]), crs="EPSG:4326"
).to_crs("EPSG:32650")
hits = gpd.sjoin(points, areas[["id", "geometry"]], predicate="within", how="left")
hits = hits[~hits.index.duplicated()]
area = hits["id"].to_numpy()
level[pd.notna(area)] = spec["important"]
df["onshore_level"] = pd.Categorical.from_codes(level, spec["names"])
df["onshore_area"] = area
df.to_parquet(out, compression="zstd")
"""


def onshore_exe() -> str:
    """The ``onshore`` script beside this interpreter (what a user runs)."""
    exe = Path(sys.executable).with_name("onshore")
    return str(exe) if exe.exists() else "onshore"


def wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def fleet(folder: Path, rows: list[int]) -> dict[int, Path]:
    """Slices of ``rows`` rows of a 400-vehicle fleet (written once, then reused)."""
    telemetry = folder / "telemetry.parquet"
    if not telemetry.exists():
        days = max(1, -(-max(rows) // 1_500_000))
        subprocess.run(
            [onshore_exe(), "demo-data", str(folder), "--vehicles", "400", "--days", str(days)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    paths = {}
    table = None
    for n in rows:
        path = folder / f"telemetry-{n}.parquet"
        if not path.exists():
            table = table if table is not None else pq.read_table(telemetry)
            if table.num_rows < n:
                raise SystemExit(f"{telemetry} has {table.num_rows:,} rows, fewer than {n:,}")
            pq.write_table(table.slice(0, n), path, row_group_size=131_072, compression="zstd")
        paths[n] = path
    return paths


def peer_spec(folder: Path, tmp: Path) -> Path:
    """Per-column levels and area buffers, taken from the pack (not timed)."""
    import onshore
    from onshore.geo import load_areas

    pack = onshore.load_pack()
    schema = pq.read_schema(folder / "telemetry.parquet")
    catalogue = load_areas(folder / "areas.geojson", kinds=pack.area_buffers())
    spec = {
        "levels": {n: int(pack.resolve_field(n).level) for n in schema.names},
        "buffers": {a.id: a.buffer_m for a in catalogue.areas},
        "important": int(onshore.Level.IMPORTANT),
        "names": [m.label for m in onshore.Level],
    }
    path = tmp / "spec.json"
    path.write_text(json.dumps(spec))
    return path


def whole_scan(paths: dict[int, Path], areas: Path, repeat: int, tmp: Path) -> None:
    spec = peer_spec(areas.parent, tmp)
    peer = tmp / "peer.py"
    peer.write_text(PEER)
    print(f"{'rows':>10}{'onshore scan --out (s)':>25}{'geopandas script (s)':>23}{'ratio':>8}")
    for n, path in paths.items():
        ours, theirs = [], []
        # one untimed run each first: the input in the page cache, numba's cache written
        scan = [onshore_exe(), "scan", str(path), "--areas", str(areas), "--json"]
        wall([*scan, "--out", str(tmp / "warm.parquet"), "--quarantine", str(tmp / "q.jsonl")])
        wall([sys.executable, "-c", "import geopandas, pandas, pyproj"])
        for _ in range(repeat):  # alternated, so both see the same load
            out = tmp / "ours.parquet"
            ours.append(
                wall(
                    [
                        *[onshore_exe(), "scan", str(path), "--areas", str(areas)],
                        *["--out", str(out), "--json", "--quarantine", str(tmp / "q.jsonl")],
                    ]
                )
            )
            theirs.append(
                wall(
                    [
                        sys.executable,
                        str(peer),
                        str(path),
                        str(areas),
                        str(tmp / "peer.parquet"),
                        str(spec),
                    ]
                )
            )
        o, t = min(ours), min(theirs)
        print(f"{n:>10,}{o:>25.2f}{t:>23.2f}{t / o:>7.1f}x")


def fixed_costs(repeat: int) -> None:
    from onshore.cli import cli

    floor = [sys.executable, "-c", "import pyarrow, numpy, click"]
    helps: dict[str, list[float]] = {"(none)": [], "import floor": []}
    verbs = sorted(cli.list_commands(None))  # type: ignore[arg-type]
    for verb in verbs:
        helps[verb] = []
    for _ in range(max(repeat, 5)):
        helps["import floor"].append(wall(floor))
        helps["(none)"].append(wall([onshore_exe(), "--help"]))
        for verb in verbs:
            helps[verb].append(wall([onshore_exe(), verb, "--help"]))
    base = statistics.median(helps["import floor"])
    print(f"\n{'command':<34}{'median (s)':>12}{'x floor':>9}")
    print(f"{'python -c import pyarrow,numpy,click':<34}{base:>12.3f}{1.0:>8.1f}x")
    for name, times in helps.items():
        if name == "import floor":
            continue
        label = "onshore --help" if name == "(none)" else f"onshore {name} --help"
        m = statistics.median(times)
        print(f"{label:<34}{m:>12.3f}{m / base:>8.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--dir", type=Path, default=Path("bench-data") / "scan-job")
    parser.add_argument("--skip-scan", action="store_true", help="Only the fixed costs.")
    args = parser.parse_args()
    print(f"cpus: {os.cpu_count()}   load average: {os.getloadavg()[0]:.1f}")
    # Bytecode as an install has it (make install compiles; an editable install alone has
    # none, and with PYTHONDONTWRITEBYTECODE every run would compile the sources again).
    import compileall

    import onshore

    compileall.compile_dir(str(Path(onshore.__file__).parent), quiet=1)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        if not args.skip_scan:
            paths = fleet(args.dir, args.rows)
            whole_scan(paths, args.dir / "areas.geojson", args.repeat, tmp)
        fixed_costs(args.repeat)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
