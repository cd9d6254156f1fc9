"""Messages that could not be ingested, kept with the reason: ``HOME/quarantine/*.jsonl``
(owner-only: files ``0600`` in a ``0700`` folder).

Each line is durable (flushed and fsynced) before the message is acknowledged, so nothing
the worker acknowledges is lost, not even what it could not use.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from onshore.private import open_private_append
from onshore.store.db import iso


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

    def to_dict(self, at: datetime) -> dict[str, Any]:
        try:
            text: str | None = self.payload.decode("utf-8") if self.fmt == "json" else None
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
            "payload": text if text is not None else None,
            "payload_hex": None if text is not None else self.payload[:65_536].hex(),
        }


class Quarantine:
    """Appends rejected messages to ``folder/ingest-DATASET.jsonl``, durably."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    def path(self, dataset: str) -> Path:
        return self.folder / f"ingest-{dataset}.jsonl"

    def put(self, items: Sequence[QuarantinedMessage], at: datetime) -> None:
        if not items:
            return
        by_dataset: dict[str, list[str]] = {}
        for item in items:
            line = json.dumps(item.to_dict(at), ensure_ascii=False)
            by_dataset.setdefault(item.dataset, []).append(line)
        for dataset, lines in by_dataset.items():
            fd = open_private_append(self.path(dataset))  # 0600 in a 0700 folder
            with open(fd, "a", encoding="utf-8") as fh:
                fh.write("\n".join(lines) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        self.count += len(items)
