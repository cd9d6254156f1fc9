"""Malformed bodies of every format get a 4xx problem (or a 200 that quarantines), never a 500.

Property-based: random bytes, truncated and bit-flipped valid bodies, JSON lines with extreme or
wrongly typed values, CSV with odd headers, Arrow and Parquet tables with extreme times and
nested types, and GB/T 32960 frames, each posted to /v1/scan, /v1/desensitize and
/v1/ingest/telemetry. Every error is ``application/problem+json`` without stack text or the
name of an exception class, and a rejected ingest (4xx) stores nothing and records nothing.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from service_support import (
    PROBLEM,
    T0_MS,
    Keys,
    arrow_stream,
    arrow_table,
    entries,
    gbt_frame,
    jsonl,
    message,
    vin,
)

from onshore.service import ROLES, ServiceSettings, create_app
from onshore.store import Lake

JSONL = "application/x-ndjson"
CSV = "text/csv"
PARQUET = "application/vnd.apache.parquet"
STREAM = "application/vnd.apache.arrow.stream"
FILE = "application/vnd.apache.arrow.file"
FRAMES = "application/octet-stream"
TABLE_TYPES = (JSONL, CSV, PARQUET, STREAM, FILE)
INGEST_TYPES = (JSONL, STREAM, FILE, FRAMES)
SCAN = "/v1/scan"
DESENSITIZE = "/v1/desensitize?profile=internal-analytics"
EXPORT = "/v1/desensitize?profile=export-default"
INGEST = "/v1/ingest/telemetry"
STACK = re.compile(
    r"Traceback|File \"|line \d+, in |\b\w+(Error|Exception|Invalid)\b|ArrowNotImplemented|"
    r"KeyError|StopIteration|\.py\b"
)
FAST = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def service(home_path) -> Iterator[tuple[Any, TestClient, Keys]]:  # type: ignore[no-untyped-def]
    app = create_app(ServiceSettings(home=home_path), environ={})
    made = {role: app.state.onshore.keys.add(role, name=f"t {role}").key for role in ROLES}
    with TestClient(app, raise_server_exceptions=False) as client:
        yield app, client, Keys(made)


def _lake_rows(app: Any) -> int:
    home = app.state.onshore.home
    roots = {s.name: s.root for s in home.stores()}
    return sum(pq.read_metadata(roots[f.store] / f.path).num_rows for f in Lake(home).files())


def _check(response: Any, body: bytes, where: str) -> None:
    assert response.status_code < 500, (where, body[:300], response.text[:2000])
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith(PROBLEM), response.text[:500]
        problem = response.json()
        assert problem["type"].startswith("urn:onshore:problem:")
        text = json.dumps(problem)
        assert not STACK.search(text), (where, text[:2000])


def _post_tables(service: tuple[Any, TestClient, Keys], body: bytes, media: str) -> None:
    _app, client, keys = service
    for route in (SCAN, DESENSITIZE, EXPORT):
        r = client.post(route, content=body, headers=keys("operator", Content_Type=media))
        _check(r, body, f"{route} {media}")


def _post_ingest(service: tuple[Any, TestClient, Keys], body: bytes, media: str) -> None:
    app, client, keys = service
    rows, ledger = _lake_rows(app), len(entries(app))
    r = client.post(INGEST, content=body, headers=keys("ingest", Content_Type=media))
    _check(r, body, f"{INGEST} {media}")
    if 400 <= r.status_code < 500:
        assert _lake_rows(app) == rows, r.text
        assert len(entries(app)) == ledger, r.text


# -- valid bodies, to truncate and damage ----------------------------------------------------
def _ipc_file(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def _parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def _csv(table: pa.Table) -> bytes:
    lines = [",".join(table.column_names)]
    for row in table.to_pylist():
        lines.append(",".join("" if v is None else str(v) for v in row.values()))
    return ("\n".join(lines) + "\n").encode()


VALID_TABLE = arrow_table(3, 5)
VALID = {
    JSONL: jsonl([message(i, s) for i in range(3) for s in range(5)]),
    CSV: _csv(VALID_TABLE),
    PARQUET: _parquet(VALID_TABLE),
    STREAM: arrow_stream(VALID_TABLE),
    FILE: _ipc_file(VALID_TABLE),
    FRAMES: b"".join(gbt_frame(i, s) for i in range(3) for s in range(5)),
}


@st.composite
def damaged(draw: st.DrawFn, media: str) -> bytes:
    """A valid body of ``media``, truncated or with some bytes changed."""
    body = bytearray(VALID[media])
    if draw(st.booleans()):
        return bytes(body[: draw(st.integers(0, len(body) - 1))])
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(body) - 1))
        body[at] = draw(st.integers(0, 255))
    return bytes(body)


@settings(FAST)
@given(media=st.sampled_from(TABLE_TYPES), data=st.data())
def test_random_and_damaged_table_bodies(service, media: str, data: st.DataObject) -> None:
    body = data.draw(st.one_of(st.binary(max_size=600), damaged(media)), label="body")
    _post_tables(service, body, media)


@settings(FAST)
@given(media=st.sampled_from(INGEST_TYPES), data=st.data())
def test_random_and_damaged_ingest_bodies(service, media: str, data: st.DataObject) -> None:
    body = data.draw(st.one_of(st.binary(max_size=600), damaged(media)), label="body")
    _post_ingest(service, body, media)


# -- JSON lines -------------------------------------------------------------------------------
EXTREME_INTS = st.sampled_from(
    [
        253402300800000,
        10**18,
        -62135596800001,
        -99999999999999999999,
        2**63,
        -(2**63),
        2**62,
        0,
        -1,
        T0_MS,
    ]
)
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    EXTREME_INTS,
    st.floats(),
    st.text(max_size=30),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
TIMES = st.one_of(
    EXTREME_INTS,
    st.integers(),
    st.floats(),
    st.sampled_from(
        [
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59+14:00",
            "0001-01-01T00:00:00-12:00",
            "2026-03-02T08:00:00Z",
            "2026-02-30T00:00:00Z",
            "99999-01-01T00:00:00Z",
            "",
            "now",
        ]
    ),
    JSON_VALUES,
)


UNIFORM = st.sampled_from(
    [
        EXTREME_INTS,
        st.integers(),
        st.floats(),
        st.text(max_size=12),
        st.booleans(),
        st.lists(st.integers(), max_size=2),
        st.dictionaries(st.sampled_from(["a", "b"]), st.integers(), max_size=2),
    ]
)
FIELDS = ["ts", "vin", "lat", "lon", "speed", "odometer", "plate", "crs", "ignition", "soc"]


@st.composite
def json_messages(draw: st.DrawFn) -> bytes:
    """Messages whose fields hold one odd type each (as a column would), or anything at all."""
    n = draw(st.integers(1, 6))
    uniform = {name: draw(UNIFORM) for name in draw(st.sets(st.sampled_from(FIELDS), max_size=3))}
    lines = []
    for i in range(n):
        base: dict[str, Any] = dict(message(i, i))
        for name, values in uniform.items():
            base[name] = draw(values)
        if draw(st.booleans()):
            base["ts"] = draw(TIMES)
        base.update(draw(st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=2)))
        lines.append(json.dumps(base, allow_nan=True).encode())
    return b"\n".join(lines) + b"\n"


@settings(FAST, max_examples=60)
@given(body=json_messages())
def test_json_lines_with_extreme_and_wrongly_typed_values(service, body: bytes) -> None:
    _post_tables(service, body, JSONL)
    _post_ingest(service, body, JSONL)


@pytest.mark.parametrize(
    "ts", [253402300800000, 1e18, -62135596800001, -99999999999999999999, 2**62]
)
def test_a_json_line_with_a_time_out_of_range_is_a_bad_record(service, ts: Any) -> None:
    app, client, keys = service
    body = jsonl([message(1, 0) | {"ts": ts}, message(2, 0)])
    r = client.post(INGEST, content=body, headers=keys("ingest", Content_Type=JSONL))
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["stored"], out["rejected_messages"]) == (1, 1)
    assert (out["rejections"][0]["record"], out["rejections"][0]["field"]) == (0, "ts")
    assert _lake_rows(app) == 1
    for route in (SCAN, DESENSITIZE):
        r = client.post(route, content=body, headers=keys("operator", Content_Type=JSONL))
        assert r.status_code == 200, r.text
        assert r.json()["rows_quarantined" if route == SCAN else "risk"]


# -- CSV --------------------------------------------------------------------------------------
CELL = st.text(alphabet=st.characters(blacklist_characters="\n\r"), max_size=12)


@st.composite
def csv_bodies(draw: st.DrawFn) -> bytes:
    header = draw(
        st.one_of(
            st.lists(CELL, min_size=1, max_size=5),
            st.sampled_from([["", "", "", ""], ["vin", "vin"], ["vin", "ts", ""], ["ts", "ts"]]),
            st.just(["vin", "ts", "speed"]),
        )
    )
    rows = draw(
        st.lists(
            st.lists(
                CELL | st.sampled_from(["2026-03-02T08:00:00Z", "0000-01-01", vin(1), "1e400"]),
                max_size=6,
            ),
            max_size=5,
        )
    )
    text = "\n".join([",".join(header), *(",".join(r) for r in rows)])
    return text.encode("utf-8", errors="surrogatepass")


@settings(FAST)
@given(body=csv_bodies())
def test_csv_with_odd_headers_and_cells(service, body: bytes) -> None:
    _post_tables(service, body, CSV)


@pytest.mark.parametrize("body", [b",,,\n,,,", b"vin,vin\n1,2", b"vin,ts,\n1,2,3"])
def test_csv_without_names_or_with_a_name_twice_is_422(service, body: bytes) -> None:
    _app, client, keys = service
    for route in (SCAN, DESENSITIZE):
        r = client.post(route, content=body, headers=keys("operator", Content_Type=CSV))
        assert r.status_code == 422, r.text
        assert r.json()["type"] == "urn:onshore:problem:bad-input"
        assert r.json()["file"] == "request body"


# -- Arrow and Parquet tables -----------------------------------------------------------------
UNITS = st.sampled_from(["s", "ms", "us", "ns"])
INT64 = st.one_of(
    st.integers(-(2**63), 2**63 - 1), EXTREME_INTS.filter(lambda v: -(2**63) <= v < 2**63)
)


@st.composite
def temporal_arrays(draw: st.DrawFn, n: int) -> pa.Array:
    values = draw(st.lists(st.none() | INT64, min_size=n, max_size=n))
    kind = draw(st.sampled_from(["timestamp", "timestamp_tz", "date32", "date64", "duration"]))
    if kind == "date32":
        return pa.array([None if v is None else v % 2**32 - 2**31 for v in values], pa.date32())
    if kind == "date64":
        return pa.array(values, pa.date64())
    if kind == "duration":
        return pa.array(values, pa.duration(draw(UNITS)))
    tz = "UTC" if kind == "timestamp_tz" else None
    return pa.array(values, pa.timestamp(draw(UNITS), tz=tz))


@st.composite
def nested_arrays(draw: st.DrawFn, n: int) -> pa.Array:
    inner = draw(temporal_arrays(n) | st.just(pa.array([vin(i) for i in range(n)])))
    shape = draw(st.sampled_from(["list", "struct", "map", "large_list", "dictionary"]))
    if shape == "struct":
        return pa.StructArray.from_arrays([inner, pa.array(range(n))], names=["a", "b"])
    if shape == "dictionary":
        return pa.array([vin(i % 2) for i in range(n)]).dictionary_encode()
    offsets = pa.array(list(range(n + 1)), pa.int32())
    if shape == "map":
        return pa.MapArray.from_arrays(offsets, pa.array([str(i) for i in range(n)]), inner)
    if shape == "large_list":
        return pa.LargeListArray.from_arrays(pa.array(list(range(n + 1)), pa.int64()), inner)
    return pa.ListArray.from_arrays(offsets, inner)


@st.composite
def scalar_arrays(draw: st.DrawFn, n: int) -> pa.Array:
    """Integers of any width and sign, floats, text or binary: what ``ts`` or a value may be."""
    kind = draw(st.sampled_from(["uint64", "int32", "int64", "float64", "string", "binary"]))
    if kind == "uint64":
        return pa.array(
            draw(st.lists(st.integers(0, 2**64 - 1), min_size=n, max_size=n)), pa.uint64()
        )
    if kind == "int32":
        return pa.array(
            draw(st.lists(st.integers(-(2**31), 2**31 - 1), min_size=n, max_size=n)), pa.int32()
        )
    if kind == "int64":
        return pa.array(draw(st.lists(INT64, min_size=n, max_size=n)), pa.int64())
    if kind == "float64":
        return pa.array(draw(st.lists(st.floats(), min_size=n, max_size=n)), pa.float64())
    if kind == "string":
        return pa.array(draw(st.lists(st.text(max_size=8), min_size=n, max_size=n)), pa.string())
    return pa.array(draw(st.lists(st.binary(max_size=8), min_size=n, max_size=n)), pa.binary())


@st.composite
def odd_tables(draw: st.DrawFn) -> pa.Table:
    n = draw(st.integers(1, 5))
    columns: dict[str, pa.Array] = {
        "vin": pa.array([vin(i) for i in range(n)]),
        "ts": pa.array([T0_MS + i for i in range(n)], pa.timestamp("ms", tz="UTC")),
        "lat": pa.array([31.2] * n),
        "lon": pa.array([121.4] * n),
    }
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(["vin", "ts", "lat", "speed", "plate", "recorded", "extra"]))
        columns[name] = draw(temporal_arrays(n) | nested_arrays(n) | scalar_arrays(n))
    return pa.table(columns)


@settings(FAST)
@given(table=odd_tables(), media=st.sampled_from([STREAM, FILE, PARQUET]))
def test_arrow_and_parquet_with_extreme_times_and_nested_types(
    service, table: pa.Table, media: str
) -> None:
    if media == PARQUET:
        try:
            body = _parquet(table)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            assume(False)  # Parquet cannot hold it (a time that overflows its unit)
            return
    else:
        body = arrow_stream(table) if media == STREAM else _ipc_file(table)
    _post_tables(service, body, media)
    if media != PARQUET:
        _post_ingest(service, body, media)


def test_an_arrow_row_with_a_time_out_of_range_is_a_bad_record(service) -> None:
    app, client, keys = service
    table = pa.table(
        {
            "vin": [vin(1), vin(2)],
            "ts": pa.array([2**62, T0_MS], pa.timestamp("ms", tz="UTC")),
        }
    )
    body = arrow_stream(table)
    r = client.post(SCAN, content=body, headers=keys("operator", Content_Type=STREAM))
    assert r.status_code == 200, r.text
    bad = r.json()["bad_records"]
    assert r.json()["rows"] == 1 and [(b["row"], b["field"]) for b in bad] == [(0, "ts")]
    r = client.post(DESENSITIZE, content=body, headers=keys("operator", Content_Type=STREAM))
    assert r.status_code == 200 and r.json()["risk"]["rows"]["quarantined"] == 1, r.text
    # ingest takes an Arrow table whole or not at all: 422 naming the record and the field
    r = client.post(INGEST, content=body, headers=keys("ingest", Content_Type=STREAM))
    assert r.status_code == 422, r.text
    assert (r.json()["record"], r.json()["field"]) == (0, "ts")
    assert _lake_rows(app) == 0


@pytest.mark.parametrize("column", ["plate", "iccid"])
def test_nested_columns_to_pseudonymize_are_422_naming_the_column(service, column: str) -> None:
    _app, client, keys = service
    table = arrow_table(2, 3).append_column(column, pa.array([[1, 2]] * 6))
    r = client.post(
        DESENSITIZE, content=arrow_stream(table), headers=keys("operator", Content_Type=STREAM)
    )
    assert r.status_code == 422, r.text
    assert r.json()["field"] == column


# -- GB/T 32960 frames -------------------------------------------------------------------------
@settings(FAST)
@given(
    frames=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 100)), min_size=1, max_size=4),
    cut=st.integers(0, 200),
    flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=4),
)
def test_damaged_gbt32960_frames(
    service, frames: list[tuple[int, int]], cut: int, flips: list[tuple[int, int]]
) -> None:
    body = bytearray(b"".join(gbt_frame(i, s) for i, s in frames))
    for at, value in flips:
        body[at % len(body)] = value
    _post_ingest(service, bytes(body[: max(1, len(body) - cut)]), FRAMES)


# -- 500s say nothing ---------------------------------------------------------------------------
def test_a_500_says_only_a_generic_sentence_and_an_incident_id(
    service, monkeypatch, caplog
) -> None:
    _app, client, keys = service
    from onshore.service import bodies

    def boom(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("secret detail /etc/passwd")

    monkeypatch.setattr(bodies.Spool, "upload", boom)
    with caplog.at_level("ERROR", logger="onshore.service"):
        r = client.post(SCAN, content=b"{}\n", headers=keys("operator", Content_Type=JSONL))
    assert r.status_code == 500
    problem = r.json()
    assert problem["type"] == "urn:onshore:problem:internal"
    assert "secret" not in r.text and "RuntimeError" not in r.text
    incident = problem["incident"]
    assert re.fullmatch(r"[0-9a-f]{16}", incident) and incident in problem["detail"]
    logged = [rec for rec in caplog.records if incident in rec.getMessage()]
    assert logged and logged[0].exc_info is not None  # the traceback is in the log


def test_an_arrow_field_name_that_is_not_utf8_is_a_bad_body(service) -> None:
    """Found by the random bodies above: a damaged stream named a field in bytes that are not
    UTF-8, and reading the schema's names raised past the body checks (500)."""
    body = arrow_stream(VALID_TABLE)
    name = VALID_TABLE.schema.names[-1].encode()
    assert body.count(name) >= 1
    damaged = body.replace(name, b"\x80" + name[1:], 1)
    _post_ingest(service, damaged, STREAM)
    _post_tables(service, damaged, STREAM)
    _app, client, keys = service
    r = client.post(INGEST, content=damaged, headers=keys("ingest", Content_Type=STREAM))
    assert 400 <= r.status_code < 500, r.text
