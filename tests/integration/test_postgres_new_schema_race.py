"""Processes that open one new PostgreSQL schema at the same moment (ingest workers started
together on a fresh database) all open it: ``CREATE SCHEMA IF NOT EXISTS`` races on the
server, and the loser's unique violation means the schema is there."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import pytest

psycopg = pytest.importorskip("psycopg")
pytestmark = pytest.mark.integration

BASE_URL = os.environ.get("ONSHORE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
OPEN = """
import sys, time
from onshore.store.db import MetaDB
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))  # all at once, imports done
MetaDB(sys.argv[1]).close()
"""


def test_many_processes_open_one_new_schema_at_once() -> None:
    try:
        psycopg.connect(BASE_URL, connect_timeout=5).close()
    except psycopg.Error as exc:
        if os.environ.get("ONSHORE_CI"):
            raise
        pytest.skip(f"PostgreSQL not reachable at {BASE_URL}: {exc}")
    schemas = [f"onshore_race_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    sep = "&" if "?" in BASE_URL else "?"
    try:
        for schema in schemas:  # a few rounds: the race is a matter of timing
            url = f"{BASE_URL}{sep}schema={schema}"
            at = str(time.time() + 6)
            procs = [
                subprocess.Popen(
                    [sys.executable, "-c", OPEN, url, at], stderr=subprocess.PIPE, text=True
                )
                for _ in range(8)
            ]
            failed = [p.stderr.read() for p in procs if p.wait(timeout=120) != 0 and p.stderr]
            assert not failed, failed[0]
    finally:
        with psycopg.connect(BASE_URL, autocommit=True) as conn:
            for schema in schemas:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
