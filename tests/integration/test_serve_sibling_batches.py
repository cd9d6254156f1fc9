"""A service process among several (``onshore serve``: named per process, with a heartbeat)
waits for a live sibling's batch in progress (503) and settles a dead sibling's batch, at its
start and when it meets the batch's rows, so each row is stored once; on one SQLite file and
on PostgreSQL."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from onshore.ingest import KeyIndex
from onshore.service import ApiKeys, ServiceSettings, create_app
from onshore.store import DataHome, MetaDB

PG_URL = os.environ.get("ONSHORE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
T0_MS = 1_772_438_400_000  # 2026-03-02T08:00:00Z
JSONL = {"Content-Type": "application/x-ndjson"}


def _vin(i: int) -> str:
    return f"LSVAU2180N2{i:06d}"


def _rows(first: int, last: int) -> bytes:
    return b"".join(
        json.dumps({"vin": _vin(i), "ts": T0_MS, "speed": 40.0}).encode() + b"\n"
        for i in range(first, last)
    )


def _keys(first: int, last: int) -> list[tuple[str, int, str]]:
    return [(_vin(i), T0_MS, "json") for i in range(first, last)]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def db_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    if request.param == "sqlite":
        yield None
        return
    psycopg = pytest.importorskip("psycopg")
    try:
        psycopg.connect(PG_URL, connect_timeout=5).close()
    except psycopg.Error as exc:
        if os.environ.get("ONSHORE_CI"):
            raise
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {exc}")
    schema = f"onshore_serve_siblings_{uuid.uuid4().hex[:12]}"
    yield f"{PG_URL}{'&' if '?' in PG_URL else '?'}schema={schema}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _dead(index: KeyIndex) -> None:
    """``index``'s worker last beat long ago (as a process killed a minute ago would have)."""
    index.meta.execute("UPDATE ingest_workers SET seen_at = 0 WHERE worker = ?", (index.worker,))


def _batch(home: DataHome, batch: str) -> tuple[str, str]:
    """A batch's state and worker; ``("gone", "")`` once settled with nothing stored."""
    rows = home.meta.query("SELECT state, worker FROM ingest_batches WHERE id = ?", (batch,))
    return (str(rows[0][0]), str(rows[0][1])) if rows else ("gone", "")


def test_siblings_batches_in_progress(db_url: str | None, tmp_path: Path) -> None:
    path = tmp_path / "home"
    with DataHome(path, db=db_url, environ={}) as home:
        key = ApiKeys(MetaDB(db_url, home=path)).add("operator", name="t").key
        headers = {"X-API-Key": key, **JSONL}
        # A sibling killed while storing rows 0..4: its batch is pending, its heartbeat old.
        gone = KeyIndex(home, "http-service-otherhost-101")
        gone.beat()
        gone_batch = gone.claim("telemetry", "national_monitoring", _keys(0, 5)).batch
        _dead(gone)
        # A live sibling storing rows 10..14 right now.
        live = KeyIndex(home, "http-service-otherhost-102")
        live.beat()
        live_batch = live.claim("telemetry", "national_monitoring", _keys(10, 15)).batch

        app = create_app(ServiceSettings(home=path, db=db_url, worker=None), environ={})
        state = app.state.onshore
        try:
            assert state.worker.startswith("http-service-") and state.worker.endswith(
                f"-{os.getpid()}"
            )
            # At its start the service settled the dead sibling's batch (nothing of it in the
            # lake: its keys were released), and left the live one's alone.
            assert _batch(home, gone_batch) == ("gone", "")
            assert _batch(home, live_batch) == ("pending", live.worker)
            with TestClient(app) as client:
                r = client.post("/v1/ingest/telemetry", content=_rows(0, 5), headers=headers)
                assert r.status_code == 200, r.text
                assert r.json()["stored"] == 5  # released, so stored now, once
                r = client.post("/v1/ingest/telemetry", content=_rows(10, 15), headers=headers)
                assert r.status_code == 503, r.text
                assert r.headers["Retry-After"]
                _dead(live)  # the live sibling dies with its batch still pending
                r = client.post("/v1/ingest/telemetry", content=_rows(10, 15), headers=headers)
                assert r.status_code == 200, r.text
                assert r.json()["stored"] == 5
                assert _batch(home, live_batch)[0] != "pending"
                r = client.post("/v1/ingest/telemetry", content=_rows(0, 15), headers=headers)
                assert r.status_code == 200, r.text
                assert r.json()["stored"] == 5  # rows 5..9; the rest are duplicates
        finally:
            state.close()
        assert home.ledger.verify().ok
