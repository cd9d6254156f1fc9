"""The ledger on PostgreSQL (psycopg 3): ``SqlLedgerBackend`` on a PostgreSQL database.

``?schema=NAME`` in the URL puts the tables in that schema (created if absent). Install with
``pip install 'onshore[postgres]'``.

    backend = PostgresBackend("postgresql://postgres@127.0.0.1:5432/onshore?schema=ledger")
"""

from __future__ import annotations

from onshore.database import Database, split_schema
from onshore.ledger.sql import SqlLedgerBackend

__all__ = ["PostgresBackend", "split_schema"]


class PostgresBackend(SqlLedgerBackend):
    """Ledger rows in PostgreSQL, optionally in their own schema."""

    def __init__(self, url: str, *, schema: str | None = None) -> None:
        super().__init__(Database(url, schema=schema, label="ledger database"))
        self.schema = self.db.schema
