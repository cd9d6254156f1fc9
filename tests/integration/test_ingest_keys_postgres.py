"""Idempotency keys per dataset on a real PostgreSQL: migration 2 from migration 1's global keys,
and the same rows in two datasets. Needs the server at 127.0.0.1:5432 (``ONSHORE_TEST_PG``
overrides the URL); under ``ONSHORE_CI=1`` an unreachable server fails the test. Each run works
in its own schema and drops it afterwards."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ingest"))
from test_keys_per_dataset import check_keys_per_dataset, check_migration, migrate_from_v1

from onshore.store import DataHome, MetaDB

psycopg = pytest.importorskip("psycopg")

pytestmark = pytest.mark.integration

BASE_URL = os.environ.get("ONSHORE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def pg_url() -> Iterator[str]:
    try:
        psycopg.connect(BASE_URL, connect_timeout=5).close()
    except psycopg.Error as exc:
        if os.environ.get("ONSHORE_CI"):
            raise
        pytest.skip(f"PostgreSQL not reachable at {BASE_URL}: {exc}")
    schema = f"onshore_keys_test_{uuid.uuid4().hex[:12]}"
    sep = "&" if "?" in BASE_URL else "?"
    yield f"{BASE_URL}{sep}schema={schema}"
    with psycopg.connect(BASE_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def test_keys_per_dataset_on_postgres(pg_url: str, tmp_path: Path) -> None:
    with DataHome(tmp_path / "home", db=pg_url, environ={}) as home:
        assert home.meta.dialect == "postgresql"
        check_keys_per_dataset(home)


def test_migration_2_on_postgres(pg_url: str, tmp_path: Path) -> None:
    meta = MetaDB(pg_url)
    migrate_from_v1(meta)
    meta.close()
    with DataHome(tmp_path / "home", db=pg_url, environ={}) as home:
        check_migration(home.meta, home)
