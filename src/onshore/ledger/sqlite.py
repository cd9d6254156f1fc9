"""The embedded ledger store: one SQLite file in WAL mode (``SqlLedgerBackend`` on SQLite).

>>> import tempfile
>>> backend = SQLiteBackend(f"{tempfile.mkdtemp()}/meta.db")
>>> backend.state().frontier.size
0
>>> backend.close()
"""

from __future__ import annotations

import os
from pathlib import Path

from onshore.database import Database
from onshore.ledger.sql import SqlLedgerBackend


class SQLiteBackend(SqlLedgerBackend):
    """Ledger rows in a SQLite file (created with its directory on first use, unless
    ``create=False``), appenders on this host queued on ``<file>.ledger-lock``."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout_s: float = 60.0,
        synchronous: str = "FULL",
        create: bool = True,
    ) -> None:
        self.path = Path(path)
        db = Database(
            f"sqlite:///{path}",
            create=create,
            busy_timeout_s=busy_timeout_s,
            synchronous=synchronous,
            label="ledger database",
        )
        memory = str(path) == ":memory:"
        lock = None if memory else self.path.with_name(self.path.name + ".ledger-lock")
        super().__init__(db, queue_lock=lock)
