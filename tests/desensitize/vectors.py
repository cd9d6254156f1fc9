"""Load the operator test vectors (tests/vectors/desensitize/*.yaml) and run them on the core.

A case is one step in a profile of its own (other fields kept); the released rows compare as
plain values in any order, every column, timestamps as ISO text in
UTC, numbers to 6 decimals.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

import onshore
from onshore.keystore import Key
from onshore.packs.profiles import Profile

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
KEY = Key("hmac-sha256", "0" * 16, bytes(32))


@dataclass(frozen=True)
class Case:
    title: str
    op: str
    profile: Profile
    table: pa.Table
    areas: Path | None
    boundaries: Path | None
    out: list[dict[str, Any]]


def load_cases() -> list[Case]:
    cases = []
    for path in sorted((VECTORS / "desensitize").glob("*.yaml")):
        for raw in yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]:
            profile = Profile.model_validate(
                {"name": "vector", "promise": {"level": "important"}, "steps": [raw["step"]]}
            )
            cases.append(
                Case(
                    title=raw["title"],
                    op=raw["step"]["op"],
                    profile=profile,
                    table=pa.Table.from_pylist(raw["in"]),
                    areas=VECTORS / raw["areas"] if raw.get("areas") else None,
                    boundaries=VECTORS / raw["boundaries"] if raw.get("boundaries") else None,
                    out=raw["out"],
                )
            )
    return cases


def resources(case: Case, pack: onshore.Pack) -> dict[str, Any]:
    """The key, areas and boundaries a case's runner is given."""
    empty = {"type": "FeatureCollection", "features": []}
    areas = onshore.load_areas(case.areas or empty, kinds=pack.area_buffers())
    boundaries = onshore.load_areas(case.boundaries) if case.boundaries else None
    return {"keys": KEY, "areas": areas, "boundaries": boundaries}


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, float):
        return round(value, 6)
    return value


def rows(table: pa.Table) -> list[dict[str, Any]]:
    """The table's rows as plain values, in a fixed order."""
    out = [{k: _plain(v) for k, v in row.items()} for row in table.to_pylist()]
    return sorted(out, key=lambda row: repr(sorted(row.items())))


def expected(case: Case) -> list[dict[str, Any]]:
    return rows(pa.Table.from_pylist(case.out)) if case.out else []


def run_core(case: Case, pack: onshore.Pack) -> pa.Table:
    table, _report = onshore.desensitize(
        case.table, case.profile, pack=pack, **resources(case, pack)
    )
    return table
