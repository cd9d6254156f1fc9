"""Several ingest workers on one home quarantine into the same files at once: each takes its
turn, so rotation never loses a file and no line is cut or interleaved."""

from __future__ import annotations

import json
import multiprocessing
from datetime import UTC, datetime
from pathlib import Path

from onshore.ingest.quarantine import Quarantine, QuarantinedMessage

WORKERS = 4
PUTS = 80


def _worker(folder: str, worker: int) -> None:
    quarantine = Quarantine(Path(folder), max_bytes=1_500, keep=10_000)
    at = datetime(2026, 11, 3, tzinfo=UTC)
    for i in range(PUTS):
        payload = f"{worker}:{i}:".encode() + b"x" * (i % 7 * 40)
        message = QuarantinedMessage(f"w{worker}/{i}", "telemetry", "json", "not JSON", payload)
        quarantine.put([message], at)


def test_concurrent_workers_lose_no_line(tmp_path: Path) -> None:
    folder = tmp_path / "quarantine"
    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=_worker, args=(str(folder), w)) for w in range(WORKERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    seen: list[str] = []
    files = sorted(folder.glob("ingest-telemetry*.jsonl"))
    assert len(files) > 20  # rotated many times while the others wrote
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            item = json.loads(line)  # a whole line, never two interleaved
            seen.append(item["source"])
    assert sorted(seen) == sorted(f"w{w}/{i}" for w in range(WORKERS) for i in range(PUTS))
