"""The ingestor under failures: a message that makes the code fail is isolated and
quarantined (the rest of its batch is stored); a storage fault retried leaves every message in
exactly one place, even when the settling of the failed batch failed too; the quarantine is
bounded, rotates, and undoes a failed write."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from ingest_support import json_message

from onshore.errors import StorageUnavailable
from onshore.ingest import Ingestor
from onshore.ingest import batch as batch_module
from onshore.ingest.decode import Decoded, decode_json
from onshore.ingest.quarantine import Quarantine, QuarantinedMessage
from onshore.ingest.recovery import file_keys
from onshore.store import DataHome, Lake


@pytest.fixture
def home(tmp_path: Path) -> Iterator[DataHome]:
    with DataHome(tmp_path / "home", environ={}) as h:
        yield h


def _stored(home: DataHome) -> list[tuple[str, int, str]]:
    out: list[tuple[str, int, str]] = []
    for f in Lake(home).files():
        out.extend(file_keys(home.store(f.store).root / f.path))
    return out


def _quarantine_lines(home: DataHome) -> list[dict[str, Any]]:
    path = home.path / "quarantine" / "ingest-telemetry.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def test_a_message_that_makes_the_code_fail_is_isolated(
    home: DataHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug that some content triggers (here: a decoder that raises on it) costs that
    message only: the batch is split until it is alone, and it is quarantined."""

    def fragile(payloads: Sequence[bytes]) -> Decoded:
        if any(b"BOOM" in p for p in payloads):
            raise RuntimeError("a bug")
        return decode_json(payloads)

    monkeypatch.setitem(batch_module.DECODERS, "json", fragile)
    payloads = [json_message(i, 0) for i in range(40)]
    payloads[7] = payloads[31] = b'{"BOOM": 1}'
    outcome = Ingestor(home, worker="t").ingest("telemetry", "json", payloads)
    assert (outcome.messages, outcome.stored, outcome.rejected) == (40, 38, 2)
    assert len(_stored(home)) == 38
    lines = _quarantine_lines(home)
    assert [x["reason"] for x in lines] == ["internal error: RuntimeError: a bug"] * 2


def test_a_storage_fault_retried_leaves_each_message_in_one_place(
    home: DataHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pipeline fails (disk full) and so does the settling of its claim (database gone):
    the retry must not take the claimed keys for duplicates, nor quarantine twice."""
    real_pipeline, real_recover = batch_module.run_pipeline, batch_module.recover
    failures = {"pipeline": 1, "recover": 1}

    def pipeline(*args: Any, **kw: Any) -> Any:
        if failures["pipeline"]:
            failures["pipeline"] -= 1
            raise StorageUnavailable("disk full")
        return real_pipeline(*args, **kw)

    def recover(*args: Any, **kw: Any) -> Any:
        if failures["recover"]:
            failures["recover"] -= 1
            raise StorageUnavailable("database gone")
        return real_recover(*args, **kw)

    monkeypatch.setattr(batch_module, "run_pipeline", pipeline)
    monkeypatch.setattr(batch_module, "recover", recover)
    ing = Ingestor(home, worker="t")
    payloads = [json_message(i, 0) for i in range(10)] + [b"not json"]
    with pytest.raises(StorageUnavailable):
        ing.ingest("telemetry", "json", payloads)
    assert _quarantine_lines(home) == []  # nothing settled, nothing quarantined yet
    outcome = ing.ingest("telemetry", "json", payloads)
    assert (outcome.stored, outcome.duplicates, outcome.rejected) == (10, 0, 1)
    assert len(_quarantine_lines(home)) == 1
    again = ing.ingest("telemetry", "json", payloads)  # a redelivery
    assert (again.stored, again.duplicates) == (0, 10)
    assert sorted(_stored(home)) == sorted(set(_stored(home)))


def test_the_quarantine_is_bounded_and_rotates(tmp_path: Path) -> None:
    q = Quarantine(tmp_path / "q", max_payload=100, max_bytes=4_000, keep=2)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    big = QuarantinedMessage("t", "d", "json", "not JSON", b"x" * 1_000_000)
    for _ in range(200):
        q.put([big], at)
    files = sorted((tmp_path / "q").glob("ingest-d*.jsonl"))
    assert [f.name for f in files] == ["ingest-d.1.jsonl", "ingest-d.2.jsonl", "ingest-d.jsonl"]
    assert all(f.stat().st_size <= 4_000 for f in files)
    line = json.loads(files[-1].read_text().splitlines()[-1])
    assert line["truncated"] and line["bytes"] == 1_000_000 and len(line["payload"]) == 100
    stats = q.stats()
    assert stats["messages"] == 200 and stats["dropped_files"] > 0
    assert stats["by_reason"] == {"not JSON": 200}


def test_a_failed_quarantine_write_is_undone(tmp_path: Path) -> None:
    """A write that fails half way (here: a file-size limit) leaves no half line behind."""
    script = f"""
import resource, signal
from datetime import UTC, datetime
from pathlib import Path
from onshore.errors import StorageUnavailable
from onshore.ingest.quarantine import Quarantine, QuarantinedMessage
q = Quarantine(Path({str(tmp_path / "q")!r}))
at = datetime(2026, 1, 1, tzinfo=UTC)
q.put([QuarantinedMessage("t", "d", "json", "first", b"{{}}")], at)
resource.setrlimit(resource.RLIMIT_FSIZE, (3000, resource.RLIM_INFINITY))
try:
    q.put([QuarantinedMessage("t", "d", "json", "big", b"y" * 60_000)], at)
except StorageUnavailable as exc:
    print("fault:", exc)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert "fault:" in done.stdout and "EFBIG" in done.stdout, done.stdout + done.stderr
    lines = (tmp_path / "q" / "ingest-d.jsonl").read_text().splitlines()
    assert [json.loads(x)["reason"] for x in lines] == ["first"]
