"""Stores, consents and subject rights on a real PostgreSQL: the same schema and behaviour as
SQLite. Needs the server at 127.0.0.1:5432 (``ONSHORE_TEST_PG`` overrides the URL); under
``ONSHORE_CI=1`` an unreachable server fails the test instead of skipping it. Each run works in
its own schema and drops it afterwards."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "store"))
from store_support import NOW, T0, VINS, open_home, write_telemetry

from onshore.consent import ConsentRegistry
from onshore.errors import PolicyRefusal
from onshore.ledger import Activity
from onshore.pipeline import ingest
from onshore.store import Lake, MetaDB
from onshore.store.subject import count_vin, delete_subject

psycopg = pytest.importorskip("psycopg")

pytestmark = pytest.mark.integration

BASE_URL = os.environ.get("ONSHORE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def pg_url() -> Iterator[str]:
    try:
        psycopg.connect(BASE_URL, connect_timeout=5).close()
    except psycopg.Error as exc:
        if os.environ.get("ONSHORE_CI"):  # CI starts the server: unreachable there is a failure
            raise
        pytest.skip(f"PostgreSQL not reachable at {BASE_URL}: {exc}")
    schema = f"onshore_store_test_{uuid.uuid4().hex[:12]}"
    sep = "&" if "?" in BASE_URL else "?"
    yield f"{BASE_URL}{sep}schema={schema}"
    with psycopg.connect(BASE_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def test_store_consent_and_deletion_on_postgres(pg_url: str, tmp_path: Path) -> None:
    source = write_telemetry(tmp_path, rows_per_vin=200)
    with open_home(tmp_path / "home", db=pg_url) as home:
        assert home.meta.dialect == "postgresql"
        ConsentRegistry(home).grant(
            VINS[0], "location.trajectory", "navigation",
            expires_at=NOW + timedelta(days=30), granted_at=T0,
        )  # fmt: skip
        result = ingest(home, source, dataset="nav", purpose="navigation")
        assert result.gate.nulled_values == {"location.trajectory": 800}
        home.add_store("fra", jurisdiction="DE", location="Frankfurt")
        with pytest.raises(PolicyRefusal):
            ingest(home, source, dataset="t", purpose="national_monitoring", store="fra")
        deletion = delete_subject(home, VINS[0])
        assert deletion.rows_removed == {"nav": 200} and count_vin(home, VINS[0])[0] == 0
        kinds = [e.kind for _, e in home.ledger.entries()]
        assert home.ledger.verify().ok
        assert sum(f.rows for f in Lake(home).files()) == 400
        assert not (tmp_path / "home" / "meta.db").exists()
    assert kinds.count(Activity.POLICY_REFUSAL) == 1 and Activity.DELETION in kinds
    # Migrations are idempotent: reopening sees the same state.
    again = MetaDB(pg_url)
    assert again.query("SELECT status FROM subject_requests") == [("completed",)]
    again.close()
