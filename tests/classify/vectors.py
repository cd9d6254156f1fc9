"""Load the classification test vectors (tests/vectors/classify/*.yaml) as Arrow inputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "classify"


@dataclass(frozen=True)
class Case:
    file: str
    title: str
    rule: str
    table: pa.Table
    areas: Path | None
    subject: str | None
    out: list[dict[str, Any]] = field(default_factory=list)
    dataset: dict[str, Any] = field(default_factory=dict)


def _generate(spec: dict[str, Any]) -> pa.Table:
    n = int(spec["rows"])
    columns = {}
    for name, value in spec["template"].items():
        if isinstance(value, str):
            columns[name] = [
                value.replace("{i10}", str(i % 10)).replace("{i}", str(i)) for i in range(n)
            ]
        else:
            columns[name] = [value] * n
    return pa.table(columns)


def load_cases() -> list[Case]:
    cases = []
    for path in sorted(VECTORS.glob("*.yaml")):
        for raw in yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]:
            table = (
                _generate(raw["generate"]) if "generate" in raw else pa.Table.from_pylist(raw["in"])
            )
            cases.append(
                Case(
                    file=path.name,
                    title=raw["title"],
                    rule=raw["rule"],
                    table=table,
                    areas=VECTORS / raw["areas"] if raw.get("areas") else None,
                    subject=raw.get("subject"),
                    out=raw.get("out", []),
                    dataset=raw.get("dataset", {}),
                )
            )
    return cases
