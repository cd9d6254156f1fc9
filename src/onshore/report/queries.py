"""The queries behind every table of the report, as data, and the one executor that runs them.

A query is a JSON object; the report embeds it beside the rows it gave, and ``onshore report
verify`` runs it again. Four sources:

``sql``
    ``{"source": "sql", "sql": "SELECT …", "params": [...]}``: run as written on the metadata
    database (``?`` placeholders), every value made JSON-plain.
``ledger``
    ``{"source": "ledger", "kinds": [...], "year": Y, "tz": "+08:00", "tree_size": N,
    "explode": "categories" | null, "group_by": [...], "aggregates": [[op, field], ...]}``:
    the entries ``0 .. N-1`` (the prefix the report's signed tree head covers, so later entries
    never change the answer) of those kinds whose local time falls in year Y (``"year": null``:
    any year), and, with ``"match": {FIELD: VALUE}``, whose fields equal those values, grouped and
    aggregated. Fields are dotted paths into the entry (``details.recipient``,
    ``counts.rows``) or ``index``, ``month`` (local ``YYYY-MM``), ``records`` and
    ``held_categories`` (:func:`onshore.report.figures.derived_facts`), ``category`` and
    ``category_root`` (with ``explode``). Operations: ``count``, ``sum``, ``union`` (sorted
    distinct values, joined with ``, ``), ``first``, ``last`` (in ledger order).
``lake``
    ``{"source": "lake", "figure": NAME, "sql": "SELECT … FROM lake_files …", "params": [as_of],
    "written": [start, end], "tz": …, "vehicle_columns": [...]}``: the listed Parquet files,
    read once for every lake figure (:mod:`onshore.report.figures` defines each).
``config`` / ``pack`` / ``home``
    values read from ``config.yaml``, the policy pack, or the home's set-up (stores, keys,
    ledger); computed by :mod:`onshore.report.collect`, recomputed the same way.

>>> describe({"source": "ledger", "kinds": ["export"], "year": 2026, "tz": "+08:00",
...           "tree_size": 9, "group_by": ["details.country"], "aggregates": [["count"]]})
'ledger[0..8] kind IN (export) AND year(time +08:00) = 2026 GROUP BY details.country → count'
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from onshore.errors import BadInput
from onshore.ledger import Ledger, LedgerEntry
from onshore.report.figures import derived_facts
from onshore.store import DataHome

Row = list[Any]


def plain(value: Any) -> Any:
    """A database value as JSON-plain data (ints stay ints, bytes become hex)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else round(value, 6)
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    if hasattr(value, "__int__") and not isinstance(value, float):
        return int(value)
    return str(value)


def run_sql(home: DataHome, query: Mapping[str, Any]) -> list[Row]:
    rows = home.meta.query(str(query["sql"]), list(query.get("params", [])))
    return [[plain(v) for v in r] for r in rows]


# -- ledger ------------------------------------------------------------------------------------
def _offset(tz: str) -> dt.timedelta:
    sign = -1 if tz.startswith("-") else 1
    hours, minutes = tz[1:].split(":")
    return sign * dt.timedelta(hours=int(hours), minutes=int(minutes))


def _path(entry: dict[str, Any], name: str) -> Any:
    value: Any = entry
    for part in name.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _facts(index: int, entry: LedgerEntry, tz: dt.timedelta, explode: str | None) -> Iterable[Any]:
    data = entry.to_dict()
    data["index"] = index
    local = entry.time + tz
    data["month"] = local.strftime("%Y-%m")
    data["year"] = local.year
    derived_facts(data)
    if explode is None:
        yield data
        return
    for value in _path(data, explode) or []:
        yield {**data, "category": value, "category_root": str(value).split(".")[0]}


def run_ledger(ledger: Ledger, query: Mapping[str, Any]) -> list[Row]:
    kinds = list(query.get("kinds", []))
    tz = _offset(str(query.get("tz", "+00:00")))
    year = query.get("year")
    match = dict(query.get("match") or {})
    stop = int(query["tree_size"])
    group_by = list(query.get("group_by", []))
    aggregates = [list(a) for a in query.get("aggregates", [["count"]])]
    groups: dict[tuple[Any, ...], list[Any]] = {}
    for kind in kinds or [None]:
        for index, entry in ledger.entries(kind=kind, stop=stop):
            for fact in _facts(index, entry, tz, query.get("explode")):
                if year is not None and fact["year"] != year:
                    continue
                if any(plain(_path(fact, k)) != v for k, v in match.items()):
                    continue
                key = tuple(plain(_path(fact, g)) for g in group_by)
                state = groups.setdefault(key, [_start(a) for a in aggregates])
                for i, agg in enumerate(aggregates):
                    state[i] = _step(agg, state[i], fact, index)
    rows = [
        [*key, *(_finish(a, s) for a, s in zip(aggregates, state, strict=True))]
        for key, state in groups.items()
    ]
    return sorted(rows, key=lambda r: [("" if v is None else str(v)) for v in r[: len(group_by)]])


def _start(agg: Sequence[str]) -> Any:
    return {"count": 0, "sum": 0, "union": set(), "first": None, "last": None}.get(agg[0])


def _step(agg: Sequence[str], state: Any, fact: dict[str, Any], index: int) -> Any:
    op = agg[0]
    if op == "count":
        return state + 1
    value = _path(fact, agg[1])
    if op == "sum":
        return state + int(value or 0)
    if op == "union":
        values = value if isinstance(value, list) else [value]
        return state | {str(v) for v in values if v is not None}
    if op == "first":
        return state if state is not None else (index, value)
    if op == "last":
        return (index, value) if state is None or index >= state[0] else state
    raise BadInput(f"unknown aggregate {op!r}", field="aggregates")


def _finish(agg: Sequence[str], state: Any) -> Any:
    if agg[0] == "union":
        return ", ".join(sorted(state))
    if agg[0] in ("first", "last"):
        return plain(state[1]) if state is not None else None
    return state


# -- description -------------------------------------------------------------------------------
def describe(query: Mapping[str, Any]) -> str:
    """One line a reader can follow (and a query language a reviewer could re-run by hand)."""
    source = query.get("source")
    if source in ("sql", "lake"):
        params = ", ".join(repr(p) for p in query.get("params", []))
        return f"{query['sql']}  -- params: [{params}]"
    if source == "ledger":
        where = f"kind IN ({', '.join(query.get('kinds', []))})"
        if query.get("year") is not None:
            where += f" AND year(time {query.get('tz', '+00:00')}) = {query['year']}"
        for name, value in sorted((query.get("match") or {}).items()):
            where += f" AND {name} = {value!r}"
        text = f"ledger[0..{int(query['tree_size']) - 1}] {where}"
        if query.get("explode"):
            text += f" EXPLODE {query['explode']}"
        if query.get("group_by"):
            text += f" GROUP BY {', '.join(query['group_by'])}"
        aggs = ", ".join(
            a[0] if len(a) == 1 else f"{a[0]}({a[1]})" for a in query.get("aggregates", [])
        )
        text = f"{text} → {aggs}"
        return f"{text}; then {query['then']}" if query.get("then") else text
    return f"{source}: {query.get('what', '')}"
