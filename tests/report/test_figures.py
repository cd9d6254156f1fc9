"""The figures (issue 20): one definition each, by collection time, consistent across sections.

A scenario that reproduces the issue (rows dated years back, a category nulled by the consent
gate, rows past retention, important data) and property tests over random histories of puts,
consent-nulled puts, quarantining puts, purges and exports (raw and desensitized per trip):
whatever happened, the sections never contradict each other.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from onshore.classify.vin import vin_check_char
from onshore.config import load_config
from onshore.consent.registry import ConsentRegistry
from onshore.geo import AreaIndex
from onshore.geo.areas import load_areas
from onshore.pipeline import ingest
from onshore.report import collect, missing_to_file
from onshore.report.figures import contradictions, derived_facts
from onshore.store import DataHome
from onshore.store.purge import purge
from onshore.transfer.execute import TransferGate
from onshore.transfer.models import Approval, Recipient, TransferRequest
from onshore.transfer.registry import Registry as TransferRegistry

NOW = dt.datetime(2026, 6, 1, 4, 0, tzinfo=dt.UTC)


def _vin(i: int) -> str:
    body = f"LSVAB2180N{i:07d}"
    return body[:8] + vin_check_char(body) + body[9:]


class Clock:
    def __init__(self, moment: dt.datetime) -> None:
        self.moment = moment

    def __call__(self) -> dt.datetime:
        return self.moment


def _batch(n: int, *, first: int, year: int, position: bool = True) -> Any:
    data: dict[str, Any] = {
        "vin": [_vin(first + i % 5) for i in range(n)],
        "ts": pa.array(
            [dt.datetime(year, 3, 1, 8, 0, i % 60, tzinfo=dt.UTC) for i in range(n)],
            pa.timestamp("ms", "UTC"),
        ),
        "speed_kmh": [30.0 + i for i in range(n)],
    }
    if position:
        data["lat"] = [39.9 + i * 1e-4 for i in range(n)]
        data["lon"] = [116.4 + i * 1e-4 for i in range(n)]
    table = pa.table(data)
    return [(b, None) for b in table.to_batches()]


def _rows(data: dict[str, Any], table: str) -> list[dict[str, Any]]:
    t = data["tables"][table]
    return [dict(zip(t["columns"], r, strict=True)) for r in t["rows"]]


def test_the_issue_scenario_gives_one_set_of_figures(tmp_path: Path) -> None:
    clock = Clock(NOW)
    with DataHome(tmp_path / "home", environ={}, clock=clock) as home:
        # GB/T 32960-like frames dated 2021, collected in 2026 (a legal obligation keeps them)
        ingest(home, _batch(11, first=0, year=2021), dataset="gbt", purpose="national_monitoring")
        # navigation: the trajectory needs a separate consent; the one vehicle that gave it is
        # not in the data, so the gate nulls every position
        ConsentRegistry(home).grant(
            _vin(99),
            "location.trajectory",
            "navigation",
            expires_at=NOW + dt.timedelta(days=30),
        )
        ingest(home, _batch(20, first=10, year=2026), dataset="geo", purpose="navigation")
        config = load_config(None, home=home.path)
        data = collect(home, config, 2026)
        missing = missing_to_file(home, config, 2026)
    scale = {r["dataset"]: r for r in _rows(data, "scale")}
    # collected this year by collection time: the 2021-dated frames count
    assert scale["gbt"]["records"] == 11 and scale["*"]["records"] == 31
    collection = {r["dataset"]: r for r in _rows(data, "collection")}
    assert "location.trajectory" not in collection["geo"]["categories"]
    assert "location.trajectory" in collection["gbt"]["categories"]
    categories = {r["category"]: r for r in _rows(data, "categories")}
    assert categories["location.trajectory"]["records"] == 11  # gbt only: geo's were nulled
    assert categories["location.trajectory"]["datasets"] == "gbt"
    # the necessity of processing (Art. 13(2)) names no basis for what the gate nulled
    bases = {(r["dataset"], r["necessity"]["id"]) for r in _rows(data, "necessity")}
    assert ("gbt", "cn-auto/basis/gbt32960-reporting") in bases
    assert ("geo", "cn-auto/basis/trajectory-separate-consent") not in bases
    assert sum(r["records"] for r in _rows(data, "volume_by_month")) == 31
    # the 2021 positions are far past the 7-day retention: not in place, and `due` says so
    overdue = sum(r["rows"] for r in _rows(data, "overdue"))
    assert overdue == 11
    retention = next(r for r in _rows(data, "measures") if r["measure"] == "retention")
    assert retention["status"] == "overdue"
    assert any("past their retention period" in m for m in missing)
    assert "measure Retention periods and deletion: not in place (rows past retention)" in missing
    assert contradictions(data) == []


def test_a_purge_is_reported_and_puts_retention_back_in_place(tmp_path: Path) -> None:
    clock = Clock(NOW)
    with DataHome(tmp_path / "home", environ={}, clock=clock) as home:
        ingest(home, _batch(11, first=0, year=2021), dataset="gbt", purpose="national_monitoring")
        purge(home)
        data = collect(home, load_config(None, home=home.path), 2026)
    (deleted,) = _rows(data, "deletions")
    assert deleted["decision"] == "purged" and deleted["records"] == 11
    assert _rows(data, "overdue") == []
    retention = next(r for r in _rows(data, "measures") if r["measure"] == "retention")
    assert retention["status"] == "on"
    assert contradictions(data) == []


@given(
    rows=st.integers(0, 50),
    quarantined=st.integers(0, 60),
    categories=st.lists(st.sampled_from(["a", "a.b", "c", "d.e"]), unique=True),
    kept=st.dictionaries(st.sampled_from(["a", "a.b", "c", "d.e"]), st.integers(0, 5)),
    legacy=st.booleans(),
)
def test_collected_records_exclude_quarantine_and_nulled_categories(
    rows: int, quarantined: int, categories: list[str], kept: dict[str, int], legacy: bool
) -> None:
    quarantined = min(quarantined, rows)
    details: dict[str, Any] = {"nulled_values": {c: rows for c in categories if not kept.get(c)}}
    if not legacy:
        details["kept_values"] = kept
    fact: dict[str, Any] = {
        "counts": {"rows": rows, "rows_quarantined": quarantined},
        "categories": categories,
        "details": details,
    }
    derived_facts(fact)
    assert fact["records"] == rows - quarantined  # quarantined rows are not stored rows
    assert set(fact["held_categories"]) <= set(categories)
    if not legacy:  # a category whose values were all nulled is not collected
        assert all(kept.get(c, 0) > 0 for c in fact["held_categories"])
    if rows == quarantined:  # nothing stored: no category was collected either
        assert fact["held_categories"] == []


Op = tuple[str, int, int, bool]
OPS = st.lists(
    st.tuples(
        st.sampled_from(["put", "nulled_put", "quarantined_put", "purge", "export"]),
        st.integers(1, 30),  # rows
        st.sampled_from([2021, 2026]),  # the data's own year
        st.booleans(),  # with positions; all rows quarantined; export desensitized per trip
    ),
    min_size=1,
    max_size=5,
)
AREAS = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"id": "mz-1", "kind": "military_zone", "name": "test zone"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[100.0, 30.0], [100.1, 30.0], [100.1, 30.1], [100.0, 30.0]]],
            },
        }
    ],
}


def _quarantined(n: int, *, first: int, year: int, every: bool) -> tuple[Any, int]:
    """A put whose rows with a latitude out of range (all, or every other) are quarantined."""
    bad = n if every else (n + 1) // 2
    table = pa.table(
        {
            "vin": [_vin(first + i % 5) for i in range(n)],
            "ts": pa.array(
                [dt.datetime(year, 3, 1, 8, 0, i % 60, tzinfo=dt.UTC) for i in range(n)],
                pa.timestamp("ms", "UTC"),
            ),
            "lat": [95.0 if i < bad else 39.9 + i * 1e-4 for i in range(n)],
            "lon": [116.4 + i * 1e-4 for i in range(n)],
            "speed_kmh": [30.0 + i for i in range(n)],
        }
    )
    return [(b, None) for b in table.to_batches()], bad


def _trips(path: Path, vehicles: list[int]) -> Path:
    """Two 20-minute trips per vehicle (long enough for the per-trip export profile)."""
    start = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
    rows = [
        (_vin(v), start + dt.timedelta(hours=trip, seconds=10 * i), 31.2 + v * 0.01, i)
        for v in vehicles
        for trip in range(2)
        for i in range(120)
    ]
    pq.write_table(
        pa.table(
            {
                "vin": [r[0] for r in rows],
                "ts": pa.array([r[1] for r in rows], pa.timestamp("ms", tz="UTC")),
                "lat": [r[2] for r in rows],
                "lon": [121.4 + r[3] * 1e-3 for r in rows],
                "speed_kmh": [40.0] * len(rows),
            }
        ),
        path,
    )
    return path


@pytest.mark.filterwarnings("ignore")
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=OPS)
def test_random_histories_never_contradict(tmp_path_factory: Any, ops: list[Op]) -> None:
    """Puts, consent-nulled puts, quarantining puts, purges and exports in any order:
    categories never exceed records, months sum to the total, nulled categories are not held,
    the stores hold the total, quarantined rows are not stored rows, exports are counted once
    and the individuals exported are the natural persons, not the pseudonyms of their trips."""
    clock = Clock(NOW)
    base = tmp_path_factory.mktemp("history")
    nulled_only: set[str] = set()
    stored: dict[str, int] = {}  # dataset -> rows read less rows quarantined
    exported: set[str] = set()  # VINs of the people whose data went abroad
    exports = 0
    purged = False
    areas = AreaIndex.build(load_areas(AREAS), engine="numpy")
    with DataHome(base / "home", environ={}, clock=clock) as home:
        ConsentRegistry(home).grant(
            _vin(999), "location.trajectory", "navigation", expires_at=NOW + dt.timedelta(days=300)
        )
        TransferRegistry(home).add_approval(
            Approval("SCC-1", "standard_contract", dt.date(2026, 1, 5), recipient="Acme GmbH")
        )
        config = load_config(None, home=home.path)
        for i, (op, n, year, flag) in enumerate(ops):
            clock.moment = NOW + dt.timedelta(hours=i)
            if op == "purge":
                purge(home)
                purged = True
            elif op == "put":
                ingest(
                    home,
                    _batch(n, first=i * 5, year=year, position=flag),
                    dataset=f"d{i}",
                    purpose="national_monitoring",
                )
                stored[f"d{i}"] = n
            elif op == "quarantined_put":
                batches, bad = _quarantined(n, first=i * 5, year=year, every=flag)
                result = ingest(home, batches, dataset=f"d{i}", purpose="national_monitoring")
                assert result.rows_quarantined == bad
                stored[f"d{i}"] = n - bad
            elif op == "export":
                vehicles = [(i % 2) * 2 + v for v in range(3)]  # overlapping across exports
                request = TransferRequest(
                    dataset=str(_trips(base / f"x{i}.parquet", vehicles)),
                    recipient=Recipient("Acme GmbH", "DE", "dpo@acme.example"),
                    purpose="warranty analytics",
                    profile="export-default" if flag else None,  # per-trip pseudonyms
                    impact_assessment="PIA-1",
                    outbound_basis="contract",
                    outbound_basis_note="warranty contract clause 12",
                )
                outcome = TransferGate(home, config, areas=areas).run(request)
                assert outcome.decision.allowed, outcome.decision
                exported |= {_vin(v) for v in vehicles}
                exports += 1
            else:
                ingest(
                    home,
                    _batch(n, first=i * 5, year=year, position=flag),
                    dataset=f"d{i}",
                    purpose="navigation",
                )
                nulled_only.add(f"d{i}")
                stored[f"d{i}"] = n
        data = collect(home, config, 2026)
    assert contradictions(data) == []
    total = next(r for r in _rows(data, "scale") if r["dataset"] == "*")
    for category in _rows(data, "categories"):
        assert category["records"] <= total["records"]
        if category["category"] == "location.trajectory":
            held_in = set(category["datasets"].split(", "))
            assert not held_in & nulled_only
    collection = {r["dataset"]: r for r in _rows(data, "collection")}
    for row in collection.values():
        if row["dataset"] in nulled_only:
            assert "location.trajectory" not in row["categories"]
        if row["records"] == 0:  # every row quarantined: nothing collected
            assert row["categories"] == ""
    for row in _rows(data, "necessity"):  # no basis is a reason for what was not collected
        assert collection[row["dataset"]]["records"] > 0
        if row["dataset"] in nulled_only:
            assert row["necessity"]["id"] != "cn-auto/basis/trajectory-separate-consent"
    months = sum(r["records"] for r in _rows(data, "volume_by_month"))
    assert months == total["records"]
    # quarantined rows are not stored rows: the ledger's and the lake's records agree
    scale = {r["dataset"]: r["records"] for r in _rows(data, "scale") if r["dataset"] != "*"}
    for dataset, rows in stored.items():
        assert collection[dataset]["records"] == rows
        if not purged:
            assert scale.get(dataset, 0) == rows
        else:
            assert scale.get(dataset, 0) <= rows
    # every export once, in each table that counts them
    assert sum(r["exports"] for r in _rows(data, "exports")) == exports
    assert sum(r["exports"] for r in _rows(data, "export_mechanisms")) == exports
    assert sum(r["exports"] for r in _rows(data, "exports_use")) == exports
    # the individuals exported are natural persons, whatever pseudonyms their trips went under
    everyone = next(r for r in _rows(data, "exported_individuals") if r["recipient"] == "*")
    assert everyone["individuals"] == len(exported)
