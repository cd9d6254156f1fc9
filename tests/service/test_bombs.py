"""Decompression bombs: bodies far under the size limit that decode to far over it get a 413.

The bombs are real: zstd-compressed Arrow IPC (stream, file, many batches) of 200 MB of zeros
in a few kilobytes, Parquet (compressed pages, dictionary and run-length encoding, a list of
25 million zeros in one row), and an Arrow column of 2**31 - 1 nulls in 240 bytes. They are
built in a child process, so this process never holds what they decode to; whether the server
takes that memory is measured in another child process, fresh, by its peak resident size.
"""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from service_support import (
    AREAS,
    ARROW,
    JSONL,
    Keys,
    arrow_table,
    assert_problem,
    entries,
    jsonl,
    message,
)

from onshore.service import ROLES, ServiceSettings, create_app

DECODED = 200_000_000  # what the bombs decode to (bytes), over the 64 MiB default limit
STREAM = "application/vnd.apache.arrow.stream"
FILE = "application/vnd.apache.arrow.file"
PARQUET = "application/vnd.apache.parquet"
MEDIA = {
    "arrow-stream": STREAM,
    "arrow-file": FILE,
    "arrow-batches": STREAM,
    "arrow-nulls": STREAM,
    "parquet-plain": PARQUET,
    "parquet-dictionary": PARQUET,
    "parquet-text": PARQUET,
    "parquet-list": PARQUET,
}
ROUTES = {
    STREAM: ("/v1/scan", "/v1/desensitize?profile=internal-analytics", "/v1/ingest/telemetry"),
    FILE: ("/v1/scan", "/v1/desensitize?profile=internal-analytics", "/v1/ingest/telemetry"),
    PARQUET: ("/v1/scan", "/v1/desensitize?profile=internal-analytics"),
}
MAKE = """
import io, sys
import numpy as np
import pyarrow as pa, pyarrow.ipc as ipc, pyarrow.parquet as pq
out = sys.argv[1]
n = 25_000_000  # int64 zeros: 200 MB
zeros = pa.table({"speed": np.zeros(n, dtype=np.int64)})
zstd = ipc.IpcWriteOptions(compression="zstd")
def stream(table, **kw):
    sink = pa.BufferOutputStream()
    with ipc.new_stream(sink, table.schema, options=zstd) as w:
        w.write_table(table, **kw)
    return sink.getvalue().to_pybytes()
def arrow_file(table):
    sink = pa.BufferOutputStream()
    with ipc.new_file(sink, table.schema, options=zstd) as w:
        w.write_table(table)
    return sink.getvalue().to_pybytes()
def parquet(table, **kw):
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd", **kw)
    return sink.getvalue()
text = pa.array(["x" * 1000]).take(np.zeros(200_000, dtype=np.int64))
one_list = pa.ListArray.from_arrays(pa.array([0, n], pa.int32()), zeros.column(0).chunk(0))
bombs = {
    "arrow-stream": stream(zeros),
    "arrow-file": arrow_file(zeros),
    "arrow-batches": stream(zeros, max_chunksize=n // 200),
    "arrow-nulls": stream(pa.table({"x": pa.nulls(2**31 - 1)})),
    "parquet-plain": parquet(zeros, use_dictionary=False),
    "parquet-dictionary": parquet(zeros),
    "parquet-text": parquet(pa.table({"plate": text})),
    "parquet-list": parquet(pa.table({"l": one_list})),
}
for name, data in bombs.items():
    open(f"{out}/{name}.bin", "wb").write(data)
"""
MEASURE = """
import json, logging, resource, sys, time
from pathlib import Path
from fastapi.testclient import TestClient
from onshore.service import ROLES, ServiceSettings, create_app
logging.disable(logging.CRITICAL)
folder, home = Path(sys.argv[1]), Path(sys.argv[2])
media, routes = json.loads(sys.argv[3]), json.loads(sys.argv[4])
app = create_app(ServiceSettings(home=home), environ={})
key = app.state.onshore.keys.add("operator", name="bombs").key
scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
out = []
with TestClient(app, raise_server_exceptions=False) as client:
    warm = b'{"vin": "LSVAU2180N2000001", "ts": 1767225600000, "speed": 1}\\n'
    for route in ("/v1/scan", "/v1/desensitize?profile=internal-analytics"):
        client.post(route, content=warm,
                    headers={"X-API-Key": key, "Content-Type": "application/x-ndjson"})
    for name, kind in media.items():
        body = (folder / f"{name}.bin").read_bytes()
        for route in routes[kind]:
            before = peak()
            start = time.perf_counter()
            r = client.post(route, content=body, headers={"X-API-Key": key, "Content-Type": kind})
            seconds = time.perf_counter() - start
            out.append({"bomb": name, "route": route, "bytes": len(body), "status": r.status_code,
                        "type": r.json().get("type"), "seconds": seconds,
                        "grew": peak() - before})
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def bomb_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bombs")
    subprocess.run([sys.executable, "-c", MAKE, str(folder)], check=True, timeout=300)
    return folder


@pytest.mark.parametrize("bomb", sorted(MEDIA))
def test_a_bomb_is_413_within_a_second(app, client, keys, bomb_folder: Path, bomb: str) -> None:
    body = (bomb_folder / f"{bomb}.bin").read_bytes()
    assert len(body) < 200_000  # far under the 64 MiB limit on what is sent
    media = MEDIA[bomb]
    before = len(entries(app))
    for route in ROUTES[media]:
        start = time.perf_counter()
        r = client.post(route, content=body, headers=keys("operator", Content_Type=media))
        seconds = time.perf_counter() - start
        problem = assert_problem(r, 413, "payload-too-large")
        assert problem["max_body_bytes"] == 64 << 20
        assert "decodes to more than" in problem["detail"]
        assert seconds < 1.0, (bomb, route, seconds)
    assert len(entries(app)) == before  # nothing recorded of a refused body
    assert not list(app.state.onshore.home.path.glob("lake/dataset=*"))  # nor stored


def test_memory_stays_bounded_while_bombs_are_refused(bomb_folder: Path, tmp_path: Path) -> None:
    """In a fresh process: the peak resident size grows by far less than a bomb decodes to."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "areas.geojson").write_text(json.dumps(AREAS))
    args = [str(bomb_folder), str(home), json.dumps(MEDIA), json.dumps(ROUTES)]
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, *args], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(results) == sum(len(ROUTES[m]) for m in MEDIA.values())
    for r in results:
        assert r["status"] == 413, r
        assert r["type"] == "urn:onshore:problem:payload-too-large", r
        assert r["seconds"] < 1.0, r
        assert r["grew"] < 150_000_000, r  # a bomb decodes to 200 MB or more


def _zstd_stream(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    options = ipc.IpcWriteOptions(compression="zstd")
    with ipc.new_stream(sink, table.schema, options=options) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def test_compressed_bodies_within_the_limit_are_read(client, keys) -> None:
    body = _zstd_stream(arrow_table(3, 4))
    r = client.post("/v1/scan", content=body, headers=keys("operator", **ARROW))
    assert r.status_code == 200 and r.json()["rows"] == 12, r.text
    r = client.post("/v1/ingest/zstd", content=body, headers=keys("ingest", **ARROW))
    assert r.status_code == 200 and r.json()["stored"] == 12, r.text
    sink = io.BytesIO()
    pq.write_table(arrow_table(3, 4), sink, compression="zstd")
    r = client.post(
        "/v1/scan", content=sink.getvalue(), headers=keys("operator", **{"Content_Type": PARQUET})
    )
    assert r.status_code == 200 and r.json()["rows"] == 12, r.text


@pytest.fixture
def small(home_path: Path):  # type: ignore[no-untyped-def]
    """A service whose bodies may be (and decode to) at most 64 KiB."""
    app = create_app(ServiceSettings(home=home_path, max_body_bytes=64 << 10), environ={})
    made = {role: app.state.onshore.keys.add(role, name=f"t {role}").key for role in ROLES}
    with TestClient(app) as client:
        yield client, Keys(made)


def test_the_decoded_limit_is_the_configured_one_for_every_format(small) -> None:  # type: ignore[no-untyped-def]
    client, keys = small
    # Arrow: 20 KB sent, 800 KB decoded
    zeros = pa.table({"speed": pa.array([0] * 100_000, pa.int64())})
    body = _zstd_stream(zeros)
    assert len(body) < 64 << 10
    for route in ("/v1/scan", "/v1/ingest/t"):
        r = client.post(route, content=body, headers=keys("operator", **ARROW))
        assert assert_problem(r, 413, "payload-too-large")["max_body_bytes"] == 64 << 10
    # CSV: one-character fields decode to eight-byte integers
    csv = b"a,b,c,d\n" + b"1,2,3,4\n" * 7_000
    assert len(csv) < 64 << 10
    r = client.post("/v1/scan", content=csv, headers=keys("operator", Content_Type="text/csv"))
    assert_problem(r, 413, "payload-too-large")
    # JSON lines: arrays of small numbers likewise
    line = json.dumps({"vin": "LSVAU2180N2000001", "v": [0] * 2_000}).encode() + b"\n"
    body = line * 10
    assert len(body) < 64 << 10
    r = client.post("/v1/scan", content=body, headers=keys("operator", **JSONL))
    assert_problem(r, 413, "payload-too-large")
    # what fits is read
    r = client.post("/v1/scan", content=jsonl([message(1, 0)]), headers=keys("operator", **JSONL))
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("coding", ["gzip", "zstd", "br", "deflate", "gzip, identity"])
def test_a_content_encoding_is_refused_with_415(app, client, keys, coding: str) -> None:
    body = gzip.compress(jsonl([message(1, s) for s in range(3)]))
    for route in ("/v1/scan", "/v1/ingest/telemetry"):
        headers = keys("operator", Content_Encoding=coding, **JSONL)
        r = client.post(route, content=body, headers=headers)
        problem = assert_problem(r, 415, "unsupported-media-type")
        assert problem["accepted_encodings"] == ["identity"]
        assert r.headers["accept-encoding"] == "identity"
    assert not list(app.state.onshore.home.path.glob("lake/dataset=*"))
    r = client.post(
        "/v1/scan",
        content=jsonl([message(1, 0)]),
        headers=keys("operator", Content_Encoding="identity", **JSONL),
    )
    assert r.status_code == 200, r.text
