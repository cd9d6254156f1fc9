"""Helpers for the service tests: keys per role, bodies in each format, ledger lookups."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc

from onshore import gbt32960 as g
from onshore.ledger import Activity, LedgerEntry

T0 = datetime(2026, 3, 2, 8, 0, 0, tzinfo=UTC)
T0_MS = int(T0.timestamp() * 1000)
JSONL = {"Content-Type": "application/x-ndjson"}
ARROW = {"Content-Type": "application/vnd.apache.arrow.stream"}
FRAMES = {"Content-Type": "application/octet-stream"}
PROBLEM = "application/problem+json"
# One military zone far from the test fleet (profiles that drop points near areas need one).
AREAS = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"id": "mz-1", "kind": "military_zone", "name": "test zone"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[100.0, 30.0], [100.1, 30.0], [100.1, 30.1], [100.0, 30.0]]],
            },
        }
    ],
}


@dataclass(frozen=True)
class Keys:
    by_role: dict[str, str]

    def __call__(self, role: str, **headers: str) -> dict[str, str]:
        """Headers that authenticate as ``role`` (plus ``headers``, ``_`` → ``-``)."""
        extra = {k.replace("_", "-"): v for k, v in headers.items()}
        return {"X-API-Key": self.by_role[role], **extra}


def vin(i: int) -> str:
    return f"LSVAU2180N2{i:06d}"


def message(i: int, second: int, **extra: Any) -> dict[str, Any]:
    return {
        "vin": vin(i),
        "ts": T0_MS + second * 1000,
        "lat": 31.2 + i * 1e-4,
        "lon": 121.4 + second * 1e-5,
        "speed": 42.0,
        **extra,
    }


def jsonl(messages: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(m).encode() + b"\n" for m in messages)


def arrow_stream(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def arrow_table(vehicles: int, seconds: int) -> pa.Table:
    rows = [message(i, s) for i in range(vehicles) for s in range(seconds)]
    return pa.table(
        {
            "vin": [r["vin"] for r in rows],
            "ts": pa.array([r["ts"] for r in rows], pa.timestamp("ms", tz="UTC")),
            "lat": [r["lat"] for r in rows],
            "lon": [r["lon"] for r in rows],
            "speed": [r["speed"] for r in rows],
        }
    )


def gbt_frame(i: int, second: int) -> bytes:
    """A 2016 real-time frame of vehicle ``i`` at ``T0 + second``."""
    beijing = (T0 + timedelta(seconds=second)).replace(tzinfo=None) + timedelta(hours=8)
    pos = g.Position(status=0, longitude=121.4 + i * 1e-4, latitude=31.2)
    report = g.RealTimeReport(beijing, (pos,))
    return g.encode_frame(g.Frame(g.Edition.V2016, 2, 0xFE, vin(i), 1, report))


def entries(app: Any, kind: Activity | None = None) -> list[tuple[int, LedgerEntry]]:
    home = app.state.onshore.home
    return list(home.ledger.entries(kind=kind))


def assert_problem(response: Any, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["type"] == f"urn:onshore:problem:{slug}", body
    assert body["status"] == status
    assert body["title"]
    return body


ONSHORE = [sys.executable, "-m", "onshore"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def api_key(home: Path, role: str, name: str, *extra: str) -> str:
    """A new API key made by ``onshore serve keys add`` (the secret, shown once)."""
    out = subprocess.run(
        [
            *ONSHORE,
            "serve",
            "keys",
            "add",
            "--role",
            role,
            "--name",
            name,
            "--home",
            str(home),
            *extra,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    found = re.search(r"onshore_[0-9a-f]+_[A-Za-z0-9_-]+", out)
    assert found, out
    return found.group(0)


@contextmanager
def serve(home: Path, *args: str, scheme: str = "http", **client: Any) -> Iterator[str]:
    """A real ``onshore serve`` on a free loopback port, until the block ends: its base URL.
    ``client`` goes to the httpx calls that wait for it (``verify=`` for HTTPS)."""
    import httpx

    port = free_port()
    server = subprocess.Popen(
        [*ONSHORE, "serve", "--home", str(home), "--port", str(port), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"{scheme}://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/v1/health", timeout=1, **client).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)
