"""One JSON encoding of bytes and times (``onshore.jsonenc``): no adapter keeps its own."""

from __future__ import annotations

import ast
import json
from datetime import UTC, date, datetime, time, timedelta, timezone
from enum import Enum
from pathlib import Path

import numpy as np
import pyarrow as pa

from onshore.io import QuarantineWriter, TableWriter
from onshore.jsonenc import dumps, to_jsonable
from onshore.model import BadRecord

SRC = Path(__file__).resolve().parents[1] / "src" / "onshore"


def _own_encoders(tree: ast.AST) -> list[int]:
    """Lines of ``json.dump(s)(..., default=...)`` or ``cls=...`` calls and JSONEncoder
    subclasses: a private encoding of the values JSON lacks."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            keywords = {k.arg for k in node.keywords}
            if name in {"dump", "dumps"} and keywords & {"default", "cls"}:
                lines.append(node.lineno)
        elif isinstance(node, ast.ClassDef) and any(
            "JSONEncoder" in ast.unparse(base) for base in node.bases
        ):
            lines.append(node.lineno)
    return lines


def test_no_json_encoder_outside_jsonenc() -> None:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if path.name == "jsonenc.py" and path.parent == SRC:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found += [f"{path.relative_to(SRC)}:{line}" for line in _own_encoders(tree)]
    assert found == [], f"use onshore.jsonenc.dumps / to_jsonable instead: {found}"


def test_the_check_finds_a_copy() -> None:
    copy = "import json\ndef f(x):\n    return json.dumps(x,\n        default=str)\n"
    subclass = "import json\nclass E(json.JSONEncoder):\n    pass\n"
    assert _own_encoders(ast.parse(copy)) == [3]
    assert _own_encoders(ast.parse(subclass)) == [2]
    assert _own_encoders(ast.parse("import json\njson.dumps({}, indent=2)\n")) == []


class _Colour(Enum):
    RED = "red"


def test_times_bytes_and_the_rest() -> None:
    beijing = timezone(timedelta(hours=8))
    value = {
        "aware": datetime(2024, 5, 1, 16, 0, tzinfo=beijing),
        "fine": datetime(2024, 5, 1, 8, 0, 0, 250, tzinfo=UTC),
        "naive": datetime(2024, 5, 1, 8, 0, 0),
        "day": date(2024, 5, 1),
        "clock": time(8, 30),
        "raw": b"\x00\xab",
        "colour": _Colour.RED,
        "np": [np.int64(3), np.bool_(True), np.float64("nan"), np.arange(2)],
        "inf": float("inf"),
        7: (1, 2),
    }
    assert to_jsonable(value) == {
        "aware": "2024-05-01T08:00:00.000Z",
        "fine": "2024-05-01T08:00:00.000250Z",
        "naive": "2024-05-01T08:00:00.000",
        "day": "2024-05-01",
        "clock": "08:30:00",
        "raw": "00ab",
        "colour": "red",
        "np": [3, True, None, [0, 1]],
        "inf": None,
        "7": [1, 2],
    }
    assert json.loads(dumps(value, sort_keys=False, compact=True)) == to_jsonable(value)
    assert dumps({"名": "é"}, ensure_ascii=True) == '{"\\u540d": "\\u00e9"}'


def test_written_rows_and_quarantine_use_it(tmp_path: Path) -> None:
    at = datetime(2024, 5, 1, 8, tzinfo=UTC)
    batch = pa.record_batch(
        {"ts": pa.array([at], pa.timestamp("ms", "UTC")), "blob": pa.array([b"\x01"])}
    )
    with TableWriter(tmp_path / "rows.jsonl") as writer:
        writer.write(batch)
    line = json.loads((tmp_path / "rows.jsonl").read_text().splitlines()[0])
    assert line == {"ts": "2024-05-01T08:00:00.000Z", "blob": "01"}
    quarantine = QuarantineWriter(tmp_path / "bad.jsonl", source="in.csv")
    quarantine.write([BadRecord(row=3, field="ts", error="bad time", record={"ts": at})])
    quarantine.close()
    bad = json.loads((tmp_path / "bad.jsonl").read_text())
    assert bad["source"] == "in.csv" and bad["record"] == {"ts": "2024-05-01T08:00:00.000Z"}
