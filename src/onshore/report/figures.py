"""The figures: one definition of each, computed once from the lake and the ledger.

The annual report, the console's overview and the API read the same figures, defined here:

records (held)
    rows in the lake, in files *written* (collected) in the year up to the report time: by
    collection time, never by the data's own timestamps. Quarantined rows never reach the lake;
    rows removed since (purge, erasure) are no longer held.
individuals / vehicles
    distinct values of the dataset's subject column (else its VIN column) / of its VIN column.
categories
    a category is held in a row when a column of that category is not null there: a category
    whose values the consent gate nulled in every row is not held, and a category never counts
    more rows than the total.
important-data rows
    rows whose own level (``onshore_level``, set per row by the classifier) is ``important``,
    by the important-level rule that fired and the area kinds that rule names, in rows and
    individuals. The file level is never used.
records per month / per day
    held rows by the local month (day) of their collection, by row level: the months sum to the
    total.
overdue
    rows of any year past their retention period at the report time (what a purge would remove).
collected (ledger)
    ``collection`` entries of the year: rows read less rows quarantined; the categories of which
    the gate let at least one value through (``details.kept_values``; for older entries, those
    not nulled in every row), none when every row was quarantined.
risk assessment
    the latest ``risk_assessment`` ledger entry whose ``details.year`` is the year
    (:mod:`onshore.report.risk`); its absence is a gap while important data is held, and so is
    one that assessed fewer important-data rows than are held now.
individuals exported
    distinct natural persons exported this year (the transfer registry's keyed hashes, counted
    by the transfer gate before desensitization), never the sum of per-export counts.

A lake figure is a query ``{"source": "lake", "figure": NAME, "sql", "params", "written",
"tz", "vehicle_columns"}``; every figure of one collection shares one pass over the files
(:func:`scan_lake`, memoized in the ``cache`` the caller passes).

:func:`contradictions` checks the invariants between tables of a data block; :func:`gaps` lists
what keeps it from being filed (the report shows them; ``report due`` lists them).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from onshore.errors import BadInput, PackError
from onshore.model import Level
from onshore.store import DataHome
from onshore.store.db import parse_iso
from onshore.store.lake import LakeFile

Row = list[Any]
IMPORTANT = Level.IMPORTANT.label
LAKE_SQL = (
    "SELECT f.dataset, f.store, f.path, d.vin_column, f.written_at FROM lake_files f "
    "LEFT JOIN datasets d ON d.name = f.dataset WHERE f.written_at <= ? "
    "ORDER BY f.dataset, f.store, f.path"
)
LAKE_FIGURES = (
    "scale",
    "categories",
    "important",
    "stores",
    "volume",
    "overdue",
    "daily",
    "daily_categories",
)


def tz_offset(tz: str) -> dt.timedelta:
    """``+08:00`` as a timedelta."""
    sign = -1 if tz.startswith("-") else 1
    hours, minutes = tz[1:].split(":")
    return sign * dt.timedelta(hours=int(hours), minutes=int(minutes))


def lake_query(
    home: DataHome, figure: str, *, as_of: str, start: str, end: str, tz: str
) -> dict[str, Any]:
    """The query of one lake figure (see the module docstring)."""
    pack = home.pack
    vehicle = pack.header.settings.vehicle_category
    columns = sorted({n.casefold() for m in pack.fields if m.category == vehicle for n in m.names})
    return {
        "source": "lake",
        "figure": figure,
        "sql": LAKE_SQL,
        "params": [as_of],
        "written": [start, end],
        "tz": tz,
        "vehicle_columns": columns,
    }


@dataclass
class _Group:
    records: int = 0
    people: set[str] = field(default_factory=set)
    cars: set[str] = field(default_factory=set)
    datasets: set[str] = field(default_factory=set)


@dataclass
class LakeScan:
    """One pass over the lake files: every lake figure is read from here."""

    datasets: dict[str, _Group] = field(default_factory=dict)
    categories: dict[str, _Group] = field(default_factory=dict)
    important: dict[tuple[str, str], _Group] = field(default_factory=dict)
    important_all: _Group = field(default_factory=_Group)
    stores: dict[str, list[int]] = field(default_factory=dict)  # files, records, bytes
    months: dict[tuple[str, str], int] = field(default_factory=dict)
    days: dict[tuple[str, str], int] = field(default_factory=dict)
    day_categories: dict[tuple[str, str], int] = field(default_factory=dict)
    overdue: dict[str, int] = field(default_factory=dict)


def scan_lake(
    home: DataHome,
    query: Mapping[str, Any],
    cache: MutableMapping[str, LakeScan] | None = None,
) -> LakeScan:
    """Read the files the query lists once; memoized in ``cache`` by the query (less figure)."""
    key = json.dumps({k: v for k, v in query.items() if k != "figure"}, sort_keys=True)
    if cache is not None and key in cache:
        return cache[key]
    scan = _scan(home, query)
    if cache is not None:
        cache[key] = scan
    return scan


def _scan(home: DataHome, query: Mapping[str, Any]) -> LakeScan:
    pack = home.pack
    stores = {s.name: s.lake for s in home.stores()}
    vehicle_columns = set(query.get("vehicle_columns", []))
    start, end = (str(v) for v in query["written"])
    offset = tz_offset(str(query.get("tz", "+00:00")))
    as_of = parse_iso(str(query["params"][0]))
    rule_kinds = {
        r.id: ", ".join(sorted(r.when.in_area_kind or [])) or "-"
        for r in pack.record_rules
        if r.level == IMPORTANT
    }
    scan = LakeScan()
    for dataset, store, rel, subject_col, written in home.meta.query(
        str(query["sql"]), list(query["params"])
    ):
        root = stores.get(store)
        path = root.show(rel) if root is not None else str(Path(home.path) / rel)
        try:
            table = root.read_table(rel) if root is not None else pq.read_table(path)
        except (OSError, ValueError) as exc:
            raise BadInput(f"cannot read a lake file: {exc}", file=str(path)) from exc
        _overdue(home, scan, dataset, table, str(written), as_of)
        if not start <= str(written) < end:
            continue
        n = table.num_rows
        vehicle = [c for c in table.column_names if c.casefold() in vehicle_columns]
        subject = (
            subject_col
            if subject_col and subject_col in table.column_names
            else (vehicle[0] if vehicle else None)
        )
        subjects = _strings(table, subject)
        group = scan.datasets.setdefault(dataset, _Group())
        group.records += n
        group.people |= _distinct(subjects)
        if vehicle:
            group.cars |= _distinct(_strings(table, vehicle[0]))
        # categories: rows with a non-null value of the category
        held: dict[str, np.ndarray] = {}
        for name in table.column_names:
            if name.startswith("onshore_"):
                continue
            category = pack.resolve_field(name).category
            if not category:
                continue
            valid = np.asarray(pc.is_valid(table.column(name)).to_numpy(zero_copy_only=False))
            held[category] = held.get(category, np.zeros(n, dtype=bool)) | valid
        local = parse_iso(str(written)) + offset
        month, day = local.strftime("%Y-%m"), local.strftime("%Y-%m-%d")
        for category, mask in held.items():
            rows = int(mask.sum())
            if rows:
                key = (day, category)
                scan.day_categories[key] = scan.day_categories.get(key, 0) + rows
                cat = scan.categories.setdefault(category, _Group())
                cat.records += rows
                cat.datasets.add(dataset)
                cat.people |= _distinct(subjects, mask)
        levels = _level_column(table)
        for level, count in zip(*np.unique(levels, return_counts=True), strict=True):
            scan.months[(month, str(level))] = scan.months.get((month, str(level)), 0) + int(count)
            scan.days[(day, str(level))] = scan.days.get((day, str(level)), 0) + int(count)
        important = levels == IMPORTANT
        if important.any():
            scan.important_all.records += int(important.sum())
            scan.important_all.people |= _distinct(subjects, important)
            scan.important_all.datasets.add(dataset)
            reasons = (
                table.column("onshore_reasons").to_pylist()
                if "onshore_reasons" in table.column_names
                else [[] for _ in range(n)]
            )
            for rule, kinds in rule_kinds.items():
                fired = important & np.fromiter(
                    (rule in (r or ()) for r in reasons), dtype=bool, count=n
                )
                if fired.any():
                    g = scan.important.setdefault((rule, kinds), _Group())
                    g.records += int(fired.sum())
                    g.people |= _distinct(subjects, fired)
                    g.datasets.add(dataset)
        totals = scan.stores.setdefault(store, [0, 0, 0])
        totals[0] += 1
        totals[1] += n
        totals[2] += root.size(rel) if root is not None else Path(path).stat().st_size
    return scan


def _overdue(
    home: DataHome, scan: LakeScan, dataset: str, table: pa.Table, written: str, now: dt.datetime
) -> None:
    from onshore.store.purge import expired_mask

    lake_file = LakeFile("", "", dataset, "", table.num_rows, 0, "", written_at=written)
    try:
        count = int(expired_mask(home, table, lake_file, now).sum())
    except PackError:  # no retention.yaml: nothing is overdue by a period nobody set
        return
    if count:
        scan.overdue[dataset] = scan.overdue.get(dataset, 0) + count


def _level_column(table: pa.Table) -> np.ndarray:
    if "onshore_level" not in table.column_names:
        return np.full(table.num_rows, "unknown", dtype=object)
    column = pc.cast(table.column("onshore_level"), pa.string())
    return np.asarray(pc.fill_null(column, "unknown").to_pylist(), dtype=object)


def _strings(table: pa.Table, column: str | None) -> list[Any]:
    if column is None:
        return []
    return [None if v is None else str(v) for v in table.column(column).to_pylist()]


def _distinct(values: list[Any], mask: np.ndarray | None = None) -> set[str]:
    if mask is None:
        return {v for v in values if v is not None}
    return {v for v, m in zip(values, mask, strict=False) if m and v is not None}


def run_lake(
    home: DataHome, query: Mapping[str, Any], cache: MutableMapping[str, LakeScan] | None = None
) -> list[Row]:
    """The rows of one lake figure."""
    scan = scan_lake(home, query, cache)
    figure = query.get("figure")
    pack = home.pack
    if figure == "scale":
        rows: list[Row] = [
            [d, g.records, len(g.people), len(g.cars)] for d, g in sorted(scan.datasets.items())
        ]
        groups = list(scan.datasets.values())
        rows.append(
            [
                "*",
                sum(g.records for g in groups),
                len(set().union(*(g.people for g in groups))),
                len(set().union(*(g.cars for g in groups))),
            ]
        )
        return rows
    if figure == "categories":
        return [
            [
                c,
                pack.categories[c].level if c in pack.categories else "unknown",
                g.records,
                len(g.people),
                ", ".join(sorted(g.datasets)),
            ]
            for c, g in sorted(scan.categories.items())
        ]
    if figure == "important":
        out: list[Row] = [
            [rule, kinds, g.records, len(g.people), ", ".join(sorted(g.datasets))]
            for (rule, kinds), g in sorted(scan.important.items())
        ]
        a = scan.important_all
        out.append(["*", "", a.records, len(a.people), ", ".join(sorted(a.datasets))])
        return out
    if figure == "stores":
        return [
            [s.name, s.jurisdiction, s.location, *scan.stores.get(s.name, [0, 0, 0])]
            for s in sorted(home.stores(), key=lambda s: s.name)
        ]
    if figure == "volume":
        return [[m, lv, n] for (m, lv), n in sorted(scan.months.items())]
    if figure == "daily":
        return [[d, lv, n] for (d, lv), n in sorted(scan.days.items())]
    if figure == "daily_categories":
        return [[d, c, n] for (d, c), n in sorted(scan.day_categories.items())]
    if figure == "overdue":
        return [[d, n] for d, n in sorted(scan.overdue.items())]
    raise BadInput(f"unknown lake figure {figure!r}", field="figure")


# -- ledger facts --------------------------------------------------------------------------------
def derived_facts(data: dict[str, Any]) -> None:
    """Add ``records`` (rows read less rows quarantined) and ``held_categories`` (categories
    of which a value went through the gate) to a ledger entry's facts."""
    counts = data.get("counts") or {}
    details = data.get("details") or {}
    records = int(counts.get("rows", 0) or 0) - int(counts.get("rows_quarantined", 0) or 0)
    data["records"] = max(records, 0)
    categories = list(data.get("categories") or [])
    if records <= 0:  # every row quarantined (or none read): nothing was collected
        data["held_categories"] = []
        return
    kept = details.get("kept_values")
    if isinstance(kept, dict):
        data["held_categories"] = [c for c in categories if int(kept.get(c, 0) or 0) > 0]
        return
    nulled = details.get("nulled_values") or {}
    data["held_categories"] = [
        c for c in categories if int(nulled.get(c, 0) or 0) < records
    ]  # entries from before kept_values: a category nulled in every row was not collected


# -- invariants and gaps -------------------------------------------------------------------------
def _rows(data: Mapping[str, Any], table: str) -> list[dict[str, Any]]:
    t = (data.get("tables") or {}).get(table)
    if not isinstance(t, dict):
        return []
    return [dict(zip(t["columns"], r, strict=True)) for r in t["rows"]]


def _total(rows: Iterable[Mapping[str, Any]], key: str, column: str) -> Mapping[str, Any]:
    return next((r for r in rows if r.get(key) == "*"), {column: 0})


def contradictions(data: Mapping[str, Any]) -> list[str]:
    """Every contradiction between the sections of a data block (empty when consistent)."""
    out: list[str] = []
    scale = _rows(data, "scale")
    total = _total(scale, "dataset", "records")
    records = int(total.get("records", 0))
    people = int(total.get("individuals", 0))
    if sum(int(r["records"]) for r in scale if r["dataset"] != "*") != records:
        out.append("scale: the datasets' records do not add up to the total")
    for r in _rows(data, "categories"):
        if int(r["records"]) > records:
            out.append(f"categories: {r['category']} has more records than are held")
    month_sum = sum(int(r["records"]) for r in _rows(data, "volume_by_month"))
    if month_sum != records:
        out.append(f"volume_by_month: the months add up to {month_sum}, the total is {records}")
    store_sum = sum(int(r["records"]) for r in _rows(data, "stores"))
    if store_sum != records:
        out.append(f"stores: the stores hold {store_sum} records, the total is {records}")
    important = _total(_rows(data, "important"), "rule", "records")
    if int(important.get("records", 0)) > records or int(important.get("individuals", 0)) > people:
        out.append("important: more important-data rows or individuals than are held")
    levels = sum(
        int(r["records"]) for r in _rows(data, "volume_by_month") if r["level"] == IMPORTANT
    )
    if levels != int(important.get("records", 0)):
        out.append("important: the rows by month and the important-data total differ")
    held = {r["category"] for r in _rows(data, "categories")}
    listed = {r["category"] for r in _rows(data, "retention")}
    if held != listed:
        out.append("retention: the categories with a period are not the categories held")
    overdue = sum(int(r["rows"]) for r in _rows(data, "overdue"))
    measure = next((r for r in _rows(data, "measures") if r["measure"] == "retention"), None)
    if measure is not None and overdue and measure["status"] == "on":
        out.append("measures: retention is said in place while rows are past retention")
    for r in _rows(data, "collection"):
        if int(r["records"]) < 0:
            out.append(f"collection: {r['dataset']} has a negative record count")
    return out


def gaps(data: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """What the report shows as not in order: ``(key, values)`` pairs, worded by the caller
    (``labels.yaml`` ``gaps``)."""
    out: list[tuple[str, dict[str, Any]]] = []
    for r in _rows(data, "measures"):
        if r["status"] != "on":
            out.append(("measure", {"measure": r["measure"], "status": r["status"]}))
    overdue = sum(int(r["rows"]) for r in _rows(data, "overdue"))
    if overdue:
        out.append(("overdue", {"rows": overdue}))
    for r in _rows(data, "incidents"):
        if r["status"] != "closed":
            out.append(("incident", {"id": r["id"], "status": r["status"]}))
    for r in _rows(data, "complaints"):
        if r["status"] not in ("answered", "closed"):
            out.append(("complaint", {"id": r["id"], "status": r["status"], "due": r["due_date"]}))
    important = _total(_rows(data, "important"), "rule", "records")
    held = int(important.get("records", 0))
    assessed = _rows(data, "risk_assessment")
    if held and not assessed:
        out.append(("risk_assessment", {"year": data.get("year")}))
    elif assessed and held > int(assessed[-1].get("important_records") or 0):
        last = assessed[-1]
        out.append(
            (
                "risk_assessment_stale",
                {"id": last["id"], "assessed": int(last["important_records"] or 0), "rows": held},
            )
        )
    for r in _rows(data, "exports_use"):
        missing = [
            f
            for f in (
                "recipient_contact",
                "storage_location",
                "storage_period",
                "scope_of_use",
                "manner_of_use",
                "necessity",
            )
            if not r.get(f)
        ]
        if missing:
            out.append(
                (
                    "export_undeclared",
                    {"recipient": r["recipient"], "purpose": r["purpose"], "fields": missing},
                )
            )
    for r in _rows(data, "subject_requests"):
        if r["status"] != "completed":
            out.append(("request", {"kind": r["kind"], "status": r["status"], "n": r["requests"]}))
        elif int(r["on_time"] or 0) < int(r["requests"]):
            late = int(r["requests"]) - int(r["on_time"] or 0)
            out.append(("request_late", {"kind": r["kind"], "n": late}))
    return out
