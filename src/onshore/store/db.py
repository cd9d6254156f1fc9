"""The metadata database: SQLite by default, PostgreSQL when configured; one schema for both.

A :class:`~onshore.database.Database` (as the ledger's SQL backend is) with the store's tables:
numbered migrations of component ``store`` in the shared ``onshore_migrations`` table, applied on
open by the one runner every component uses (``apply_migrations``), and every driver error
translated once, in ``onshore.database``. The ledger's tables and these live side by side in
``HOME/meta.db`` (or the same PostgreSQL schema).

Tables (times are UTC text ``YYYY-MM-DDTHH:MM:SS.mmmZ``, so they sort as text)::

    stores(name, jurisdiction, location, path, created_at)
    datasets(name, origin, vin_column, ts_column, created_at)
    lake_files(store, path, dataset, part_date, rows, bytes, level, categories, min_ts, max_ts,
               written_at)
    consents(id, vin, person, category, purpose, basis, separate, channel, granted_at,
             expires_at NOT NULL, withdrawn_at, necessity, actor, subject_kind)
             -- vin: the subject's id, a VIN or (subject_kind 'person') a person's id
    subject_requests(id, kind, subject, received_at, due_date, due_confidence, completed_at,
                     status, evidence)

SQL is written with ``?`` placeholders; the dialect gives PostgreSQL ``%s``.

>>> import tempfile
>>> db = MetaDB(f"sqlite:///{tempfile.mkdtemp()}/meta.db")
>>> db.query("SELECT COUNT(*) FROM stores")
[(0,)]
>>> db.close()
"""

from __future__ import annotations

import os

from onshore.database import Database, Migrations
from onshore.jsonenc import format_time, parse_time

COMPONENT = "store"

MIGRATIONS: Migrations = (
    (
        1,
        (
            """CREATE TABLE stores (
                name TEXT PRIMARY KEY,
                jurisdiction TEXT NOT NULL,
                location TEXT NOT NULL,
                path TEXT NOT NULL,
                created_at TEXT NOT NULL
            )""",
            """CREATE TABLE datasets (
                name TEXT PRIMARY KEY,
                origin TEXT NOT NULL,
                vin_column TEXT,
                ts_column TEXT,
                created_at TEXT NOT NULL
            )""",
            """CREATE TABLE lake_files (
                store TEXT NOT NULL,
                path TEXT NOT NULL,
                dataset TEXT NOT NULL,
                part_date TEXT NOT NULL,
                rows BIGINT NOT NULL,
                bytes BIGINT NOT NULL,
                level TEXT NOT NULL,
                categories TEXT NOT NULL,
                min_ts TEXT,
                max_ts TEXT,
                written_at TEXT NOT NULL,
                PRIMARY KEY (store, path)
            )""",
            "CREATE INDEX lake_files_dataset ON lake_files (dataset, part_date)",
            """CREATE TABLE consents (
                id TEXT PRIMARY KEY,
                vin TEXT NOT NULL,
                person TEXT NOT NULL,
                category TEXT NOT NULL,
                purpose TEXT NOT NULL,
                basis TEXT NOT NULL,
                separate INTEGER NOT NULL,
                channel TEXT NOT NULL,
                granted_at TEXT NOT NULL,
                expires_at TEXT NOT NULL,
                withdrawn_at TEXT,
                necessity TEXT,
                actor TEXT NOT NULL
            )""",
            "CREATE INDEX consents_vin ON consents (vin)",
            "CREATE INDEX consents_purpose ON consents (purpose, category)",
            """CREATE TABLE subject_requests (
                id TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                subject TEXT NOT NULL,
                received_at TEXT NOT NULL,
                due_date TEXT,
                due_confidence TEXT,
                completed_at TEXT,
                status TEXT NOT NULL,
                evidence TEXT NOT NULL
            )""",
            "CREATE INDEX subject_requests_subject ON subject_requests (subject)",
        ),
    ),
    (
        2,
        (
            # a consent's subject is a vehicle (``vin`` holds the VIN) or a natural person
            # (``vin`` holds the person's id, e.g. an account id): app data key on a person
            "ALTER TABLE consents ADD COLUMN subject_kind TEXT NOT NULL DEFAULT 'vehicle'",
        ),
    ),
)


iso = format_time
"""UTC text with milliseconds, as the ledger writes times; a naive time is refused."""

parse_iso = parse_time


class MetaDB(Database):
    """A connection to the metadata database, migrated to the current schema on open."""

    def __init__(self, url: str | None = None, *, home: str | os.PathLike[str] | None = None):
        super().__init__(url, home=home, label="metadata database")
        self.apply_migrations(COMPONENT, MIGRATIONS)
