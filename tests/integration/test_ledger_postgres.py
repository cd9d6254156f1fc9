"""The ledger on a real PostgreSQL: same behaviour as SQLite, concurrent appends from processes.

Needs the server at 127.0.0.1:5432 (``ONSHORE_TEST_PG`` overrides the URL). Each run works in its
own schema and drops it afterwards.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from onshore.keystore import Keystore
from onshore.ledger import Activity, Ledger, LedgerEntry, verify_inclusion_proof

psycopg = pytest.importorskip("psycopg")

pytestmark = pytest.mark.integration

BASE_URL = os.environ.get("ONSHORE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
WORKERS = 4
PER_WORKER = 25
T0 = datetime(2024, 5, 1, tzinfo=UTC)


def _entry(n: int, dataset: str) -> LedgerEntry:
    return LedgerEntry(
        kind=Activity.STORAGE,
        actor="store",
        time=T0 + timedelta(seconds=n),
        purpose="retention",
        dataset=dataset,
        counts={"records": n},
    )


@pytest.fixture
def pg_url() -> Iterator[str]:
    try:
        psycopg.connect(BASE_URL, connect_timeout=5).close()
    except psycopg.Error as exc:
        if os.environ.get("ONSHORE_CI"):  # CI starts the server: unreachable there is a failure
            raise
        pytest.skip(f"PostgreSQL not reachable at {BASE_URL}: {exc}")
    schema = f"onshore_ledger_test_{uuid.uuid4().hex[:12]}"
    sep = "&" if "?" in BASE_URL else "?"
    yield f"{BASE_URL}{sep}schema={schema}"
    with psycopg.connect(BASE_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _open(url: str, home: str) -> Ledger:
    return Ledger.open(url, home=home, keystore=Keystore(f"{home}/keys", environ={}))


def test_append_prove_verify_and_detect_tampering(pg_url: str, tmp_path: Path) -> None:
    with _open(pg_url, str(tmp_path)) as ledger:
        for n in range(9):
            ledger.append(_entry(n, "telemetry"))
        ledger.append_many([_entry(9, "charging"), _entry(10, "charging")])
        assert ledger.verify().ok
        public = next(iter(ledger.public_keys.values()))
        verify_inclusion_proof(ledger.inclusion_proof(4), public)
        assert [i for i, _ in ledger.entries(dataset="charging")] == [9, 10]
        backend = ledger.backend
        backend.execute(  # type: ignore[attr-defined]
            "UPDATE ledger_entries SET entry = convert_to(replace(convert_from(entry, 'UTF8'),"
            " 'retention', 'retentioN'), 'UTF8') WHERE idx = 5"
        )
        report = ledger.verify()
        assert not report.ok and report.first_bad_index == 5
    # Migrations are idempotent: reopening the same schema works and sees the same log.
    with _open(pg_url, str(tmp_path)) as again:
        assert again.size() == 11


def _worker(args: tuple[str, str, int]) -> list[int]:
    url, home, worker = args
    with _open(url, home) as ledger:
        return [
            ledger.append(_entry(worker * 1000 + n, f"w{worker}")).tree_size
            for n in range(PER_WORKER)
        ]


def test_concurrent_appends_from_processes(pg_url: str, tmp_path: Path) -> None:
    home = str(tmp_path)
    _open(pg_url, home).close()  # create the key and the schema once
    with ProcessPoolExecutor(WORKERS, mp_context=mp.get_context("spawn")) as pool:
        results = list(pool.map(_worker, [(pg_url, home, w) for w in range(WORKERS)], timeout=300))
    sizes = sorted(s for r in results for s in r)
    assert sizes == list(range(1, WORKERS * PER_WORKER + 1))
    with _open(pg_url, home) as ledger:
        report = ledger.verify()
        assert report.ok, report.problems
        assert report.entries == report.heads == WORKERS * PER_WORKER


def test_concurrent_first_open_migrates_once(pg_url: str, tmp_path: Path) -> None:
    home = str(tmp_path)
    Keystore(f"{home}/keys", environ={}).ledger_signing_key()
    with ProcessPoolExecutor(WORKERS, mp_context=mp.get_context("spawn")) as pool:
        results = list(pool.map(_worker, [(pg_url, home, w) for w in range(WORKERS)], timeout=300))
    assert sorted(s for r in results for s in r)[-1] == WORKERS * PER_WORKER
