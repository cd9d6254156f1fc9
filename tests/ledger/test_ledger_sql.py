"""The one SQL layer under the ledger and the metadata database, and the one JSON encoding."""

from __future__ import annotations

import doctest
import importlib
import json
from datetime import UTC, date, datetime, timedelta, timezone
from enum import Enum
from pathlib import Path

import pytest
from ledger_support import make_entry

from onshore.database import POSTGRESQL, SQLITE, Database
from onshore.errors import BadInput, StorageError
from onshore.jsonenc import canonical_json, dumps, format_time, parse_time, to_jsonable
from onshore.ledger import open_backend
from onshore.ledger.sql import SqlLedgerBackend
from onshore.ledger.sqlite import SQLiteBackend
from onshore.store import MetaDB


@pytest.mark.parametrize("name", ["onshore.database", "onshore.jsonenc", "onshore.ledger.sql"])
def test_docstring_examples_run(name: str) -> None:
    failures, _ = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert failures == 0


def test_the_dialects_spell_the_same_sql() -> None:
    statement = "INSERT INTO t (a, b) VALUES (?, {empty_blob}) -- {blob}"
    assert SQLITE.sql(statement) == "INSERT INTO t (a, b) VALUES (?, x'') -- BLOB"
    assert POSTGRESQL.sql(statement) == "INSERT INTO t (a, b) VALUES (%s, ''::bytea) -- BYTEA"


def test_the_ledger_and_the_store_migrate_through_one_runner(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/meta.db"
    open_backend(url).close()
    meta = MetaDB(url)
    rows = meta.query("SELECT component, version FROM onshore_migrations ORDER BY 1, 2")
    from onshore.ledger.sql import MIGRATIONS as LEDGER
    from onshore.store.db import MIGRATIONS as STORE

    wanted = [("ledger", v) for v, _ in LEDGER] + [("store", v) for v, _ in STORE]
    assert rows == sorted(wanted) and ("ledger", 2) in rows and ("store", 1) in rows
    meta.apply_migrations("ledger", [(1, ["SELECT no_such_column FROM nowhere"])])  # on record
    meta.close()


def test_a_failed_migration_leaves_nothing_behind(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/meta.db")
    with pytest.raises(StorageError):
        db.apply_migrations("demo", [(1, ["CREATE TABLE demo (a INTEGER)", "NOT SQL"])])
    assert db.query("SELECT name FROM sqlite_master") == []  # not even the migrations table
    db.apply_migrations("demo", [(1, ["CREATE TABLE demo (a INTEGER)"])])
    assert db.query("SELECT version FROM onshore_migrations WHERE component = 'demo'") == [(1,)]
    db.close()


def test_an_append_that_fails_rolls_back(tmp_path: Path) -> None:
    backend = SQLiteBackend(tmp_path / "meta.db")
    assert isinstance(backend, SqlLedgerBackend)
    with pytest.raises(RuntimeError), backend.append_transaction() as tx:
        tx.state()
        backend.execute("INSERT INTO ledger_nodes VALUES (9, 9, x'00')")
        raise RuntimeError("stop")
    assert backend.nodes() == [] and backend.count() == 0
    backend.close()


def test_read_only_open_of_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="no ledger database"):
        open_backend(f"sqlite:///{tmp_path}/absent.db", create=False)
    with pytest.raises(BadInput, match="unsupported database URL"):
        open_backend("mysql://h/db")


class _Colour(Enum):
    RED = "red"


def test_one_encoding_of_times_dates_and_bytes() -> None:
    moment = datetime(2024, 5, 1, 10, 30, 0, 250_999, tzinfo=timezone(timedelta(hours=2)))
    value = {
        "at": moment,
        "naive": datetime(2024, 5, 1, 8, 0),
        "day": date(2024, 5, 1),
        "hash": b"\x01\xab",
        "colour": _Colour.RED,
        "pair": (1, float("inf")),
    }
    assert to_jsonable(value) == {
        "at": "2024-05-01T08:30:00.250999Z",  # a data value keeps its microseconds
        "naive": "2024-05-01T08:00:00.000",
        "day": "2024-05-01",
        "hash": "01ab",
        "colour": "red",
        "pair": [1, None],
    }
    assert json.loads(dumps(value)) == to_jsonable(value)
    assert parse_time(format_time(moment)) == datetime(2024, 5, 1, 8, 30, 0, 250_000, tzinfo=UTC)
    with pytest.raises(BadInput):
        format_time(datetime(2024, 5, 1))


def test_the_canonical_form_is_unchanged() -> None:
    # A leaf hash covers these bytes: they must never change for an existing ledger.
    entry = make_entry(7)
    assert entry.to_bytes() == canonical_json(entry.to_dict())
    assert entry.to_bytes().startswith(b'{"actor":"worker-1","categories":["location.trajectory"')
    assert b'"time":"2024-05-01T08:07:00.000Z"' in entry.to_bytes()
    with pytest.raises(TypeError):
        canonical_json({"at": datetime(2024, 5, 1, tzinfo=UTC)})  # JSON values only
