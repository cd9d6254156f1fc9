"""``onshore serve --workers 2`` on PostgreSQL: two real uvicorn worker processes take writes at
once, each row is stored once, and the one ledger they append to verifies."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

psycopg = pytest.importorskip("psycopg")

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BASE_URL = os.environ.get("ONSHORE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
ONSHORE = [sys.executable, "-m", "onshore"]
T0_MS = int(datetime(2026, 3, 2, 8, tzinfo=UTC).timestamp() * 1000)
VEHICLES = 3


@pytest.fixture
def pg() -> Iterator[tuple[str, str]]:
    """``(url with ?schema=…, schema)`` of a fresh schema, dropped afterwards."""
    try:
        psycopg.connect(BASE_URL, connect_timeout=5).close()
    except psycopg.Error as exc:
        if os.environ.get("ONSHORE_CI"):
            raise
        pytest.skip(f"PostgreSQL not reachable at {BASE_URL}: {exc}")
    schema = f"onshore_serve_workers_{uuid.uuid4().hex[:12]}"
    sep = "&" if "?" in BASE_URL else "?"
    yield f"{BASE_URL}{sep}schema={schema}", schema
    with psycopg.connect(BASE_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _body(request: int) -> bytes:
    """Request ``request``'s messages: its own second for each vehicle, so no row repeats."""
    return b"".join(
        json.dumps(
            {"vin": f"LSVAU2180N2{v:06d}", "ts": T0_MS + request * 1000, "speed": 40.0 + v}
        ).encode()
        + b"\n"
        for v in range(VEHICLES)
    )


def _post(base: str, key: str, request: int) -> int:
    headers = {"X-API-Key": key, "Content-Type": "application/x-ndjson"}
    for _ in range(20):  # a 503 (a sibling holds the rows for a moment) says to try again
        with httpx.Client(timeout=60) as client:  # a new connection: either worker may take it
            r = client.post(f"{base}/v1/ingest/telemetry", content=_body(request), headers=headers)
        if r.status_code != 503:
            assert r.status_code == 200, r.text
            return int(r.json()["stored"])
        time.sleep(float(r.headers.get("Retry-After", "1")))
    raise AssertionError(f"request {request} kept getting 503")


def _workers_seen(url: str, schema: str) -> set[str]:
    with psycopg.connect(BASE_URL, autocommit=True) as conn:
        rows = conn.execute(
            f'SELECT DISTINCT worker FROM "{schema}".ingest_batches WHERE state = %s', ("stored",)
        ).fetchall()
    return {str(r[0]) for r in rows}


def test_two_workers_write_one_ledger(pg: tuple[str, str], tmp_path: Path) -> None:
    url, schema = pg
    home = str(tmp_path / "home")
    db = ["--home", home, "--db", url]
    key = subprocess.run(
        [*ONSHORE, "serve", "keys", "add", "--role", "operator", "--name", "t", *db],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    port = _port()
    server = subprocess.Popen(
        [*ONSHORE, "serve", *db, "--port", str(port), "--workers", "2", "--no-access-log"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    sent = 0
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            server.kill()
            pytest.fail(f"the service did not start: {server.communicate()[1][-2000:]}")
        stored = 0
        with ThreadPoolExecutor(6) as pool:
            # Rounds of concurrent requests on fresh connections until both workers stored some
            # (the kernel hands connections to either process; a round of 12 nearly always
            # reaches both, the cap keeps an unlucky run finite).
            for _ in range(10):
                requests = range(sent, sent + 12)
                stored += sum(pool.map(lambda n: _post(base, key, n), requests))
                sent += 12
                if len(_workers_seen(url, schema)) >= 2:
                    break
        workers = _workers_seen(url, schema)
        assert len(workers) == 2, workers
        assert all(w.startswith("http-service-") for w in workers), workers
        assert stored == sent * VEHICLES  # each row once, none refused as a duplicate
    finally:
        server.terminate()
        server.wait(timeout=60)
    verify = subprocess.run(
        [*ONSHORE, "ledger", "verify", *db, "--json"], capture_output=True, text=True
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    report = json.loads(verify.stdout)
    assert report["ok"] is True
    listed = subprocess.run(
        [*ONSHORE, "ledger", "list", *db, "--kind", "storage", "--json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    storage = [json.loads(line) for line in listed.splitlines() if line.strip()]
    assert sum(e["entry"]["counts"]["rows"] for e in storage) == sent * VEHICLES
