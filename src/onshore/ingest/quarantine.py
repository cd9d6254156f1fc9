"""Messages that could not be ingested, kept with the reason: ``HOME/quarantine/*.jsonl``
(owner-only: files ``0600`` in a ``0700`` folder).

Each line is durable (flushed and fsynced) before the message is acknowledged, so nothing
the worker acknowledges is lost, not even what it could not use. A write that fails (disk full)
is undone (the file is cut back to where it was), so a retried batch never leaves a half line
or a message twice. Several workers on one home take turns (an exclusive ``flock`` on
``.ingest-DATASET.lock`` around the size check, the rotation and the append), so one worker's
undo never cuts another's lines and two never rotate the same files at once.

Bounded: a line keeps at most ``max_payload`` bytes of its message (with the message's size
and SHA-256, and ``truncated``), and a file that would pass ``max_bytes`` is rotated
(``ingest-DATASET.1.jsonl`` the newest old one, up to ``keep`` old files; the oldest goes).
At the defaults a dataset's quarantine holds at most 5 x 64 MiB.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from onshore.private import open_private_append

try:
    import fcntl
except ImportError:  # not POSIX: one worker per home
    fcntl = None  # type: ignore[assignment]
from onshore.store.atomic import storage_fault
from onshore.store.db import iso

MAX_PAYLOAD = 64 << 10
MAX_BYTES = 64 << 20
KEEP = 4


@dataclass(frozen=True)
class QuarantinedMessage:
    """One rejected message: where it came from, why, and its bytes."""

    source: str
    dataset: str
    fmt: str
    reason: str
    payload: bytes
    field: str | None = None
    offset: int | None = None

    def to_dict(self, at: datetime, max_payload: int = MAX_PAYLOAD) -> dict[str, Any]:
        kept = self.payload[:max_payload]
        try:
            text: str | None = kept.decode("utf-8") if self.fmt == "json" else None
        except UnicodeDecodeError:
            text = None
        return {
            "at": iso(at),
            "source": self.source,
            "dataset": self.dataset,
            "format": self.fmt,
            "reason": self.reason,
            "field": self.field,
            "offset": self.offset,
            "payload": text,
            "payload_hex": None if text is not None else kept.hex(),
            "bytes": len(self.payload),
            "sha256": hashlib.sha256(self.payload).hexdigest(),
            "truncated": len(self.payload) > max_payload,
        }


class Quarantine:
    """Appends rejected messages to ``folder/ingest-DATASET.jsonl``, durably and bounded."""

    def __init__(
        self,
        folder: Path,
        *,
        max_payload: int = MAX_PAYLOAD,
        max_bytes: int = MAX_BYTES,
        keep: int = KEEP,
    ) -> None:
        self.folder = folder
        self.max_payload, self.max_bytes, self.keep = max_payload, max_bytes, keep
        self.count = 0
        self.by_reason: Counter[str] = Counter()
        self.rotated = 0
        self.dropped_files = 0
        self.last_reason: str | None = None

    def path(self, dataset: str, generation: int = 0) -> Path:
        if generation:
            return self.folder / f"ingest-{dataset}.{generation}.jsonl"
        return self.folder / f"ingest-{dataset}.jsonl"

    def put(self, items: Sequence[QuarantinedMessage], at: datetime) -> None:
        """Append ``items`` durably; ``StorageUnavailable`` (nothing written) if that fails."""
        if not items:
            return
        by_dataset: dict[str, list[str]] = {}
        for item in items:
            line = json.dumps(item.to_dict(at, self.max_payload), ensure_ascii=False)
            by_dataset.setdefault(item.dataset, []).append(line)
        for dataset, lines in by_dataset.items():
            data = ("\n".join(lines) + "\n").encode()
            path = self.path(dataset)
            try:
                self._append(dataset, path, data)
            except OSError as exc:
                raise storage_fault(f"cannot quarantine into {path}", exc) from exc
        self.count += len(items)
        self.by_reason.update(_reason_kind(i.reason) for i in items)
        self.last_reason = items[-1].reason

    @contextlib.contextmanager
    def _turn(self, dataset: str) -> Iterator[None]:
        """This process's turn at ``dataset``'s files (other workers on the home wait)."""
        lock = open_private_append(self.folder / f".ingest-{dataset}.lock")
        try:
            if fcntl is not None:
                fcntl.flock(lock, fcntl.LOCK_EX)
            yield
        finally:
            os.close(lock)  # releases the lock

    def _append(self, dataset: str, path: Path, data: bytes) -> None:
        with self._turn(dataset):
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                size = 0
            if size and size + len(data) > self.max_bytes:
                self._rotate(dataset)
            fd = open_private_append(path)  # 0600 in a 0700 folder
            try:
                start = os.fstat(fd).st_size
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view) :]
                    os.fsync(fd)
                except OSError:
                    os.ftruncate(fd, start)  # no half line, no message twice on a retry
                    raise
            finally:
                os.close(fd)

    def _rotate(self, dataset: str) -> None:
        oldest = self.path(dataset, self.keep)
        if oldest.exists():
            oldest.unlink()
            self.dropped_files += 1
        for generation in range(self.keep - 1, -1, -1):
            source = self.path(dataset, generation)
            if source.exists():
                os.replace(source, self.path(dataset, generation + 1))
        self.rotated += 1

    def stats(self) -> dict[str, Any]:
        """Counts since this process started, for the worker's status."""
        return {
            "messages": self.count,
            "by_reason": dict(self.by_reason.most_common(20)),
            "rotated_files": self.rotated,
            "dropped_files": self.dropped_files,
            "last_reason": self.last_reason,
        }


def _reason_kind(reason: str) -> str:
    """The kind of a reason, without its details: ``not JSON``, ``bad ts``, ``no vin``."""
    return reason.split(":", 1)[0][:60]
