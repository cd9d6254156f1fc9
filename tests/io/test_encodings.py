"""CSV text encodings: UTF-8 with or without BOM, and GBK/GB18030 (Excel's CSV in China).

Each verb that reads CSV goes through :func:`onshore.io.open_source`: detected by default,
or ``--encoding``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from onshore.cli import cli
from onshore.cli._common import run_guarded
from onshore.errors import BadInput
from onshore.io import open_source

VIN = "1M8GDM9AXKP042788"
OWNERS = ["张三", "李四", "王五", "赵六"]
CITIES = ["北京市朝阳区", "上海市浦东新区", "深圳市南山区", "成都市武侯区"]


def _rows() -> str:
    lines = ["vin,ts,lat,lon,车主,城市,备注"]
    for i, (owner, city) in enumerate(zip(OWNERS, CITIES, strict=True)):
        lines.append(f"{VIN},2026-11-02T08:0{i}:00Z,39.9{i},116.4{i},{owner},{city},第{i}次")
    return "\r\n".join(lines) + "\r\n"  # as Excel writes it


def _read(path: Path, encoding: str | None = None) -> pa.Table:
    source = open_source(path, encoding=encoding)
    table = pa.Table.from_batches([b for b, _rows in source.batches()])
    assert source.bad == []
    return table


@pytest.mark.parametrize("codec", ["gbk", "gb18030", "utf-8", "utf-8-sig"])
def test_detected(codec: str, tmp_path: Path) -> None:
    path = tmp_path / f"{codec}.csv"
    path.write_bytes(_rows().encode(codec))
    if codec == "gbk":  # the test means something only if the bytes are not UTF-8
        with pytest.raises(UnicodeDecodeError):
            path.read_bytes().decode("utf-8")
    table = _read(path)
    assert table.column_names == ["vin", "ts", "lat", "lon", "车主", "城市", "备注"]
    assert table.column("车主").to_pylist() == OWNERS
    assert table.column("城市").to_pylist() == CITIES
    assert table.column("lat").type == pa.float64()


def test_gb18030_four_byte_characters(tmp_path: Path) -> None:
    """Characters outside GBK (a CJK Extension B ideograph, U+20000) take four bytes."""
    path = tmp_path / "rare.csv"
    path.write_bytes(f"vin,name\n{VIN},\U00020000家\n".encode("gb18030"))
    assert _read(path).column("name").to_pylist() == ["\U00020000家"]
    assert _read(path, "gb18030").column("name").to_pylist() == ["\U00020000家"]


def test_given_encoding(tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes(_rows().encode("gbk"))
    assert _read(path, "GBK").column("车主").to_pylist() == OWNERS
    with pytest.raises(BadInput, match=r"not utf-8 .*the detected encoding is gb18030"):
        _read(path, "utf-8")
    with pytest.raises(BadInput, match="unknown encoding 'klingon'"):
        _read(path, "klingon")


def test_undetectable_bytes_are_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "noise.csv"
    path.write_bytes(b"a,b\n\xff\xff,1\n")
    with pytest.raises(BadInput, match="neither UTF-8 nor GB18030"):
        _read(path)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run_guarded(cli, list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("flag", [[], ["--encoding", "gbk"]])
def test_every_verb_reads_a_gbk_csv(
    flag: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(_rows().encode("gbk"))
    out = tmp_path / "scanned.jsonl"
    code, _, err = _run(capsys, "scan", str(path), "--out", str(out), *flag)
    assert code == 0, err
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["车主"] for r in rows] == OWNERS

    home = tmp_path / "home"
    code, put, err = _run(
        capsys, "store", "put", str(path), "--dataset", "t", "--home", str(home), "--json", *flag
    )
    assert code == 0, err
    assert json.loads(put)["rows_stored"] == 4

    areas = tmp_path / "areas.geojson"
    square = [[100.0, 20.0], [100.1, 20.0], [100.1, 20.1], [100.0, 20.1], [100.0, 20.0]]
    feature = {
        "type": "Feature",
        "properties": {"id": "a", "kind": "military_zone", "name": "A"},
        "geometry": {"type": "Polygon", "coordinates": [square]},
    }
    areas.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    safe = tmp_path / "safe.jsonl"
    code, _, err = _run(
        capsys,
        "desensitize",
        str(path),
        "--profile",
        "internal-analytics",
        "--areas",
        str(areas),
        "--out",
        str(safe),
        "--home",
        str(home),
        *flag,
    )
    assert code == 0, err
    assert len(safe.read_text(encoding="utf-8").splitlines()) == 4


def test_a_wrong_encoding_flag_names_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(_rows().encode("gbk"))
    code, _, err = _run(capsys, "scan", str(path), "--encoding", "utf-8")
    assert code == 2
    assert "excel.csv" in err and "not utf-8" in err
