"""Several processes store batches into one data home at once, on PostgreSQL and on one
SQLite file: every ingest batch (not every row) is one ``storage`` entry, appends from all
processes form one ordered log, and every head, inclusion and consistency proof holds."""

from __future__ import annotations

import itertools
import json
import multiprocessing as mp
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from onshore.ingest import Ingestor
from onshore.keystore import Keystore
from onshore.ledger import (
    ConsistencyProof,
    Ledger,
    SignedTreeHead,
    verify_consistency_proof,
    verify_inclusion_proof,
)
from onshore.store import DataHome

PROCESSES = 4
BATCHES = 6  # per process
ROWS = 25  # per batch
T0_MS = 1_772_438_400_000  # 2026-03-02T08:00:00Z
BASE_URL = os.environ.get("ONSHORE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    """``None`` (the home's SQLite file) or a fresh PostgreSQL schema, dropped afterwards."""
    if request.param == "sqlite":
        yield None
        return
    psycopg = pytest.importorskip("psycopg")
    try:
        psycopg.connect(BASE_URL, connect_timeout=5).close()
    except psycopg.Error as exc:
        if os.environ.get("ONSHORE_CI"):
            raise
        pytest.skip(f"PostgreSQL not reachable at {BASE_URL}: {exc}")
    schema = f"onshore_ledger_procs_{uuid.uuid4().hex[:12]}"
    yield f"{BASE_URL}{'&' if '?' in BASE_URL else '?'}schema={schema}"
    with psycopg.connect(BASE_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _home(path: str, db: str | None) -> DataHome:
    return DataHome(path, db=db, keystore=Keystore(f"{path}/keys", environ={}), environ={})


def _payloads(worker: int, batch: int) -> list[bytes]:
    """``ROWS`` messages no other batch sends: vehicle per worker and row, second per batch."""
    return [
        json.dumps(
            {
                "vin": f"LSVAU2180N2{worker:02d}{row:04d}",
                "ts": T0_MS + batch * 1000,
                "speed": 40.0,
            }
        ).encode()
        for row in range(ROWS)
    ]


def _worker(args: tuple[str, str | None, int]) -> list[dict[str, int]]:
    """Store ``BATCHES`` batches as this process's own dataset; the head after each."""
    path, db, worker = args
    heads = []
    with _home(path, db) as home:
        ingestor = Ingestor(home, worker=f"worker-{worker}")
        for batch in range(BATCHES):
            outcome = ingestor.ingest(f"w{worker}", "json", _payloads(worker, batch))
            assert outcome.stored == ROWS, outcome
            head = home.ledger.head()
            assert head is not None
            heads.append(head.to_dict())
    return heads


def _onshore(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "onshore", *args], capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
def test_processes_store_into_one_ledger(db_url: str | None, tmp_path: Path) -> None:
    path = str(tmp_path / "home")
    with _home(path, db_url) as home:  # the key, the schema, the default store, once
        home.store()
        _ = home.ledger
    with ProcessPoolExecutor(PROCESSES, mp_context=mp.get_context("spawn")) as pool:
        jobs = [(path, db_url, w) for w in range(PROCESSES)]
        results = list(pool.map(_worker, jobs, timeout=600))
    seen = sorted(
        (SignedTreeHead.from_dict(h) for heads in results for h in heads),
        key=lambda h: h.tree_size,
    )
    for heads in results:  # each process saw its log grow
        sizes = [h["tree_size"] for h in heads]
        assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes)

    db = ["--home", path] + (["--db", db_url] if db_url else [])
    verify = _onshore("ledger", "verify", *db, "--json")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    report = json.loads(verify.stdout)
    assert report["ok"] is True

    with Ledger.open(db_url, home=path, keystore=Keystore(f"{path}/keys", environ={})) as ledger:
        size = ledger.size()
        entries = list(ledger.entries())
        assert [i for i, _ in entries] == list(range(size))
        # Sizes add up: per batch one collection and one storage entry, nothing per row.
        assert size == report["entries"] == PROCESSES * BATCHES * 2
        for w in range(PROCESSES):
            mine = [e for _, e in ledger.entries(dataset=f"w{w}")]
            assert [e.kind.value for e in mine] == ["collection", "storage"] * BATCHES
            assert sum(e.counts["rows"] for e in mine if e.kind.value == "storage") == (
                BATCHES * ROWS
            )
        # The heads form one signed sequence, each a prefix of the next: one head per put
        # (its collection and storage entries go in with one append).
        heads = ledger.backend.heads()
        assert [h.tree_size for h in heads] == list(range(2, size + 1, 2))
        assert [h.sequence for h in heads] == list(range(size // 2))
        assert all(a.timestamp_ms <= b.timestamp_ms for a, b in itertools.pairwise(heads))
        keys = ledger.public_keys
        latest = ledger.head()
        assert latest is not None and latest == heads[-1]
        for index in range(size):
            verify_inclusion_proof(ledger.inclusion_proof(index), keys)
        # Every head a process was handed is the stored one, and a prefix of the latest.
        for head in seen:
            assert ledger.backend.head_at(head.tree_size) == head
            verify_consistency_proof(ledger.consistency_proof(head.tree_size), keys)
        for old, new in itertools.pairwise(seen):
            verify_consistency_proof(ledger.consistency_proof(old.tree_size, new.tree_size), keys)
    proof = _onshore("ledger", "consistency", "2", *db)
    assert proof.returncode == 0, proof.stderr
    printed = ConsistencyProof.from_dict(json.loads(proof.stdout))
    assert printed.new_head.tree_size == size
    verify_consistency_proof(printed, keys)


def test_a_ledger_opened_earlier_extends_the_latest_tree(
    db_url: str | None, tmp_path: Path
) -> None:
    """A ledger object kept open while others append starts its next append from their tree,
    not from what it saw when it opened."""
    path = str(tmp_path / "home")
    keys = Keystore(f"{path}/keys", environ={})
    with _home(path, db_url) as first, _home(path, db_url) as second:
        first.record("collection", purpose="p", dataset="a", counts={"rows": 1})
        early = first.ledger.head()
        for n in range(5):
            second.record("collection", purpose="p", dataset="b", counts={"rows": n})
        head = first.record("storage", purpose="p", dataset="a", counts={"rows": 1})
        assert early is not None and head.tree_size == 7
    with Ledger.open(db_url, home=path, keystore=keys) as ledger:
        assert ledger.verify().ok
        verify_inclusion_proof(ledger.inclusion_proof(6), ledger.public_keys)
        verify_consistency_proof(ledger.consistency_proof(early.tree_size), ledger.public_keys)
