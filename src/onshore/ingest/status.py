"""The live status of an ingest worker: ``HOME/ingest/status-CLIENT.json``, read by
``onshore ingest status``.

The file is made once, at a fixed size, when the worker starts, and then overwritten in place
(``pwrite`` of the same size, padded with spaces) through a descriptor held open: an update
needs no new disk block and no permission check, so the status still tells of a full disk or
a revoked permission while the data home has them. A reader that catches a write half done
reads again.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

from onshore.jsonenc import dumps
from onshore.private import create_private_file
from onshore.store.atomic import storage_fault

SIZE = 16 << 10
STALE_AFTER = 15.0
"""Seconds without an update after which a status is reported stale (the worker is gone)."""


def status_path(home: Path, client_id: str) -> Path:
    """Where the worker of session ``client_id`` writes its status."""
    return home / "ingest" / f"status-{re.sub(r'[^A-Za-z0-9_.-]', '_', client_id)}.json"


class StatusFile:
    """One worker's status file, written in place; see the module doc."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        try:
            create_private_file(path)
            self._fd = os.open(path, os.O_RDWR)
            os.ftruncate(self._fd, 0)
            os.write(self._fd, b" " * SIZE)  # the blocks, once: later writes need none
            os.fsync(self._fd)
        except OSError as exc:
            self.close()
            raise storage_fault(f"cannot write the status file {path}", exc) from exc

    def write(self, status: dict[str, Any]) -> bool:
        """Overwrite the status; ``False`` if it could not be written (never raises)."""
        if self._fd is None:
            return False
        data = dumps(status, sort_keys=False).encode()
        if len(data) > SIZE:
            data = json.dumps({k: status[k] for k in _ESSENTIAL if k in status}).encode()
        try:
            os.pwrite(self._fd, data.ljust(SIZE), 0)
        except OSError:
            return False
        return True

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


_ESSENTIAL = ("client_id", "pid", "state", "updated_at", "last_error", "last_error_at")


def read_statuses(home: Path) -> list[dict[str, Any]]:
    """Every worker status under ``home``, each with ``stale`` (no update for a while)."""
    out = []
    for path in sorted((home / "ingest").glob("status-*.json")):
        for _try in range(5):
            try:
                status = json.loads(path.read_bytes().strip() or b"null")
                break
            except (OSError, ValueError):
                time.sleep(0.02)
        else:
            status = None
        if not isinstance(status, dict):
            continue
        age = time.time() - float(status.get("updated_at") or 0)
        out.append(status | {"file": str(path), "stale": age > STALE_AFTER})
    return out
