"""CSV output is data for a spreadsheet, never a formula it would run."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa

from onshore.io import TableWriter


def test_formula_cells_are_written_inert(tmp_path: Path) -> None:
    hostile = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "@SUM(1)", "-2+3", "\t=1"]
    fine = ["-12.5", "+86 400", "plain", "1e-3"]
    batch = pa.record_batch(
        {
            "note": pa.array(hostile + fine),
            "tags": pa.array([["=1", "b"]] * 9, pa.list_(pa.string())),
            "n": pa.array(range(9)),
        }
    )
    out = tmp_path / "nested" / "out.csv"  # the folder is made
    with TableWriter(out) as writer:
        writer.write(batch)
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["note"] for r in rows[:5]] == ["'" + v for v in hostile]
    assert [r["note"] for r in rows[5:]][:1] == ["-12.5"]
    assert rows[6]["note"] == "'+86 400"  # not a number: could be read as a formula
    assert rows[7]["note"] == "plain" and rows[8]["note"] == "1e-3"
    assert all(r["tags"] == "'=1;b" for r in rows)
    assert all(not r["note"].startswith(("=", "+", "@", "\t")) for r in rows)
