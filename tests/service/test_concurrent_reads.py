"""Reads do not wait behind writes: a write holding the writer lock (blocked on an Event here,
as a long ingest would be) does not stop read-only requests, which run on homes of their own
and still record their ``view`` entries under their own key."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from service_support import JSONL, Keys, jsonl, message, vin

from onshore.ledger import Activity
from onshore.service import ROLES, ServiceSettings, create_app
from onshore.service.state import ServiceState

WAIT_S = 60  # only how long a broken test hangs; nothing here is timed
PG_URL = os.environ.get("ONSHORE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


class Writer:
    """A thread inside a writing session until released."""

    def __init__(self, state: ServiceState, *, sql: bool = False) -> None:
        self.state = state
        self.sql = sql
        self.inside = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with self.state.session("writer", write=True) as home:
            assert home.actor == "writer"
            if self.sql:  # SQLite's write lock too, as an ingest's claim holds it
                with home.meta.transaction():
                    self.inside.set()
                    self.release.wait(WAIT_S)
            else:
                self.inside.set()
                self.release.wait(WAIT_S)

    def __enter__(self) -> Writer:
        self.thread.start()
        assert self.inside.wait(WAIT_S)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.thread.join(WAIT_S)


def _in_thread(work: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    out: list[object] = []
    thread = threading.Thread(target=lambda: out.append(work()), daemon=True)
    thread.start()
    return thread, out


@pytest.fixture
def served(home_path: Path) -> Iterator[tuple[ServiceState, TestClient, Keys]]:
    app = create_app(ServiceSettings(home=home_path), environ={})
    keys = Keys({r: app.state.onshore.keys.add(r, name=f"test {r}").key for r in ROLES})
    with TestClient(app) as client:
        body = jsonl([message(i, s) for i in range(3) for s in range(4)])
        r = client.post("/v1/ingest/telemetry", content=body, headers=keys("ingest", **JSONL))
        assert r.status_code == 200, r.text
        yield app.state.onshore, client, keys


def test_reads_finish_while_a_write_holds_the_writer_lock(served) -> None:  # type: ignore[no-untyped-def]
    state, client, keys = served
    with Writer(state):
        for path in (
            f"/v1/console/subjects/{vin(1)}",
            f"/v1/consents?vin={vin(1)}",
            "/v1/approvals",
            "/v1/ledger/verify",
        ):
            reader, out = _in_thread(lambda p=path: client.get(p, headers=keys("compliance")))
            reader.join(WAIT_S)
            assert not reader.is_alive(), f"GET {path} waited for the writer"
            assert out[0].status_code == 200, (path, out[0].text)  # type: ignore[attr-defined]
        # a write waits for the writer lock
        grant = {"vin": vin(1), "category": "location.trajectory", "purpose": "navigation"}
        writer, wrote = _in_thread(
            lambda: client.post(
                "/v1/consents", json=grant | {"days": 30}, headers=keys("compliance")
            )
        )
        writer.join(0.5)
        assert writer.is_alive() and not wrote
    writer.join(WAIT_S)
    assert wrote[0].status_code == 201, wrote[0].text  # type: ignore[attr-defined]
    # the reads recorded their view entries under their own key, none under the writer's
    actors = {e.actor for _i, e in state.home.ledger.entries(kind=Activity.VIEW)}
    assert len(actors) == 1 and "test compliance" in actors.pop()


def test_pure_reads_run_during_a_sqlite_write_transaction(served) -> None:  # type: ignore[no-untyped-def]
    state, client, keys = served
    with Writer(state, sql=True):
        reader, out = _in_thread(lambda: client.get("/v1/ledger/head", headers=keys("auditor")))
        reader.join(WAIT_S)
        assert not reader.is_alive()
        assert out[0].status_code == 200, out[0].text  # type: ignore[attr-defined]


def test_a_session_s_actor_is_its_own(served) -> None:  # type: ignore[no-untyped-def]
    state, _client, _keys = served
    with Writer(state):
        with state.session("reader", write=False) as home:
            assert home is not state.home and home.actor == "reader"
            assert state.gate().home is home
            with state.session("nested", write=False) as inner:
                assert inner is home and inner.actor == "nested"
            assert home.actor == "reader"
        assert state.home.actor == "writer"


def test_readers_0_serialises_every_request(home_path: Path) -> None:
    state = ServiceState(ServiceSettings(home=home_path, readers=0), environ={})
    try:
        with Writer(state):
            done = threading.Event()

            def read() -> None:
                with state.session("reader", write=False) as home:
                    assert home is state.home
                    done.set()

            reader = threading.Thread(target=read, daemon=True)
            reader.start()
            assert not done.wait(0.3)  # behind the writer, as before
        reader.join(WAIT_S)
        assert done.is_set()
    finally:
        state.close()


@pytest.fixture
def pg_db() -> Iterator[str]:
    psycopg = pytest.importorskip("psycopg")
    try:
        psycopg.connect(PG_URL, connect_timeout=5).close()
    except psycopg.Error as exc:
        if os.environ.get("ONSHORE_CI"):
            raise
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {exc}")
    schema = f"onshore_reads_test_{uuid.uuid4().hex[:12]}"
    yield f"{PG_URL}{'&' if '?' in PG_URL else '?'}schema={schema}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.mark.integration
def test_reads_during_a_write_transaction_on_postgres(pg_db: str, home_path: Path) -> None:
    app = create_app(ServiceSettings(home=home_path, db=pg_db), environ={})
    state: ServiceState = app.state.onshore
    assert state.home.meta.dialect == "postgresql"
    keys = Keys({r: state.keys.add(r, name=f"test {r}").key for r in ROLES})
    with TestClient(app) as client:
        body = jsonl([message(i, s) for i in range(3) for s in range(4)])
        r = client.post("/v1/ingest/telemetry", content=body, headers=keys("ingest", **JSONL))
        assert r.status_code == 200, r.text
        with Writer(state, sql=True):
            for path in (f"/v1/consents?vin={vin(1)}", f"/v1/console/subjects/{vin(1)}"):
                reader, out = _in_thread(lambda p=path: client.get(p, headers=keys("compliance")))
                reader.join(WAIT_S)
                assert not reader.is_alive(), f"GET {path} waited for the writer"
                assert out[0].status_code == 200, out[0].text  # type: ignore[attr-defined]
        assert state.home.ledger.verify().ok
