"""``/v1/console/overview``: what is stored by row level over time, by category, distinct
individuals and vehicles (:func:`onshore.report.collect`, the annual report's own figures,
defined once in :mod:`onshore.report.figures`),
and this year's cumulative exports against each threshold of the pack's ``transfer.yaml``
(the transfer registry's counters) with the headroom left before the next mechanism."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, Query, Request

from onshore.model import Level
from onshore.service.auth import Principal, require, state_of
from onshore.service.routes.console.shared import ERRORS, READERS, legal_ref
from onshore.service.state import ServiceState
from onshore.store import DataHome
from onshore.transfer import transfer_policy

router = APIRouter(tags=["console"])


def _thresholds(home: DataHome, state: ServiceState, year: int) -> dict[str, Any]:
    """This year's cumulative exported individuals against each tier of ``transfer.yaml``."""
    policy = transfer_policy(home.pack)
    gate = state.gate()
    counts = gate.registry.count([], np.zeros(0, dtype=bool), year=year, recipient="", purpose="")
    current = {
        "non_sensitive": counts.cumulative_non_sensitive,
        "sensitive": counts.cumulative_sensitive,
    }
    tiers = policy.tiers
    named = [
        ("standard_contract_or_certification", tiers.standard_contract_or_certification),
        ("security_assessment", tiers.security_assessment),
    ]
    measures: list[dict[str, Any]] = []
    for measure, attr in (("non_sensitive", "non_sensitive_gte"), ("sensitive", "sensitive_gte")):
        value = current[measure]
        steps = []
        for mechanism, tier in named:
            threshold = getattr(tier, attr)
            if threshold is None:
                continue
            steps.append(
                {
                    "mechanism": mechanism,
                    "gte": threshold,
                    "reached": value >= threshold,
                    "headroom": max(threshold - value, 0),
                    "ref": legal_ref(home, tier.ref),
                }
            )
        steps.sort(key=lambda s: s["gte"])
        reached = [s for s in steps if s["reached"]]
        upcoming = next((s for s in steps if not s["reached"]), None)
        measures.append(
            {
                "measure": measure,
                "value": value,
                "mechanism": reached[-1]["mechanism"] if reached else "none_required",
                "tiers": steps,
                "next": upcoming,
            }
        )
    order = ["none_required", "standard_contract_or_certification", "security_assessment"]
    return {
        "year": year,
        "window": policy.counting.window,
        "mechanism": max((str(m["mechanism"]) for m in measures), key=order.index),
        "none_required_ref": legal_ref(home, tiers.none_required.ref),
        "measures": measures,
    }


def _timeline(home: DataHome, data: dict[str, Any], cache: dict[str, Any]) -> dict[str, Any]:
    """Rows collected per day (local) and held, by *row* level and by category: the lake
    figures of :mod:`onshore.report.figures`, from the same pass over the lake as the report's
    tables (never the file's level, which paints every row of a file as its worst row)."""
    from onshore.report.collect import year_bounds
    from onshore.report.figures import lake_query, run_lake

    zone = home.pack.timezone.utcoffset(None)
    start, end = year_bounds(int(data["year"]), zone)
    query = lake_query(home, "daily", as_of=data["as_of"], start=start, end=end, tz=data["tz"])
    by_level: dict[str, dict[str, int]] = {}
    for day, level, rows in run_lake(home, query, cache):
        by_level.setdefault(day, {})[level] = rows
    by_category: dict[str, dict[str, int]] = {}
    for day, category, rows in run_lake(home, {**query, "figure": "daily_categories"}, cache):
        by_category.setdefault(day, {})[category] = rows
    return {
        "days": sorted(by_level),
        "by_level": [{"date": d, **by_level[d]} for d in sorted(by_level)],
        "by_category": [{"date": d, "rows": by_category.get(d, {})} for d in sorted(by_level)],
    }


def _level(home: DataHome, category: str) -> str | None:
    known = home.pack.categories.get(category)
    return known.level if known is not None else None


def _fingerprint(home: DataHome, year: int) -> tuple[object, ...]:
    """What the overview's figures are computed from: the ledger's size (every put, deletion,
    purge and export appends to it), the lake index and the local date. Equal fingerprints
    give equal figures, so a computed overview is served again until one of them moves."""
    ((files, rows, written),) = home.meta.query(
        "SELECT COUNT(*), COALESCE(SUM(rows), 0), MAX(written_at) FROM lake_files"
    )
    today = home.now().astimezone(home.pack.timezone).date().isoformat()
    return (year, home.ledger.size(), files, rows, written, today)


def _table(data: dict[str, Any], name: str) -> list[dict[str, Any]]:
    table = data["tables"][name]
    return [dict(zip(table["columns"], row, strict=True)) for row in table["rows"]]


@router.get(
    "/v1/console/overview",
    summary="Stored data by level and category over time, scale, and the year's export volume",
    responses=ERRORS,
)
def overview(
    principal: Annotated[Principal, Depends(require(*READERS, abroad="open"))],
    request: Request,
    year: int | None = Query(None, ge=2000, le=2100, description="Default: this year (China)"),
) -> dict[str, Any]:
    """Aggregates only (no individual is named): the annual report's scale, category and
    export tables (:func:`onshore.report.collect`), the lake index per day, and the transfer
    registry's counters of distinct individuals exported since 1 January."""
    state = state_of(request)
    with state.session(principal.actor, write=False) as home:
        year = year or state.gate().today().year
        key = _fingerprint(home, year)
        known = state.figures.get(key)
    if known is not None:
        return known
    # One computation at a time (a whole-lake pass per page load would hold both cores of a
    # small server), and the requests that wait for it hold no reader home meanwhile: the
    # other requests (the ledger's verify) never queue behind them.
    with state.figures_lock:
        known = state.figures.get(key)
        if known is None:
            with state.session(principal.actor, write=False) as home:
                known = _compute(home, state, year)
            state.figures = {key: known}
    return known


def _compute(home: DataHome, state: ServiceState, year: int) -> dict[str, Any]:
    """The overview itself (see :func:`overview`)."""
    from onshore.report import collect

    cache: dict[str, Any] = {}
    data = collect(home, state.config, year, cache=cache)
    scale = _table(data, "scale")
    total = next((r for r in scale if r["dataset"] == "*"), None)
    return {
        "year": year,
        "as_of": data["as_of"],
        "levels": [level.label for level in sorted(Level)],
        "individuals": total["individuals"] if total else 0,
        "vehicles": total["vehicles"] if total else 0,
        "records": total["records"] if total else 0,
        "scale": [r for r in scale if r["dataset"] != "*"],
        "categories": [
            c | {"level": _level(home, c["category"])} for c in _table(data, "categories")
        ],
        "volume_by_month": _table(data, "volume_by_month"),
        "stores": _table(data, "stores"),
        "exports": _table(data, "exports"),
        "export_mechanisms": _table(data, "export_mechanisms"),
        "timeline": _timeline(home, data, cache),
        "thresholds": _thresholds(home, state, year),
        "ledger_size": home.ledger.size(),
    }
