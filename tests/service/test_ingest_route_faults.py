"""POST /v1/ingest under poison and storage faults: the same promises as the MQTT worker.
Poison lines are rejected and quarantined, the good lines of the same body stored; a storage
fault (a file-size limit: writes fail with EFBIG, as on a full disk) is a 503 with nothing
stored or quarantined, and the client's retry stores every row once."""

from __future__ import annotations

import json
import resource
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from service_support import JSONL, assert_problem, jsonl, message

POISON = [
    b'{"vin": "LSVPOISON00000001", "ts": 253402300800000}',
    b'{"vin": "LSVPOISON00000002", "ts": -99999999999999999999}',
    b'{"vin": 12, "ts": "yesterday"}',
    b"[1, 2, 3]",
    b"\xff\xfe not utf-8",
    b"{" * 100_000,
    b'{"vin": "LSVPOISON00000005", "ts": 1e400}',
]


@contextmanager
def file_size_limit(limit: int) -> Iterator[None]:
    """Writes past ``limit`` bytes fail (EFBIG) in this process while the block runs."""
    before = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, before[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, before)


def _quarantined(app: Any) -> list[dict[str, Any]]:
    path = app.state.onshore.home.path / "quarantine" / "ingest-telemetry.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def test_poison_lines_are_quarantined_and_the_rest_stored(app, client, keys) -> None:
    good = jsonl([message(i, s) for i in range(5) for s in range(4)])
    body = good + b"\n".join(POISON) + b"\n"
    r = client.post("/v1/ingest/telemetry", content=body, headers=keys("ingest", **JSONL))
    assert r.status_code == 200, r.text[:500]
    out = r.json()
    assert (out["stored"], out["rejected_messages"]) == (20, len(POISON))
    assert len(out["rejections"]) == len(POISON)
    assert len(_quarantined(app)) == len(POISON)


def test_a_full_disk_is_a_503_and_the_retry_stores_every_row_once(app, client, keys) -> None:
    warm = jsonl([message(99, 0)])
    warmed = client.post("/v1/ingest/telemetry", content=warm, headers=keys("ingest", **JSONL))
    assert warmed.status_code == 200, warmed.text
    body = jsonl([message(i, s) for i in range(5) for s in range(4)]) + b"{broken\n"
    headers = keys("ingest", **JSONL)
    with file_size_limit(20_000):
        r = client.post("/v1/ingest/telemetry", content=body, headers=headers)
    problem = assert_problem(r, 503, "storage-unavailable")
    assert r.headers["retry-after"] == "5"
    assert "EFBIG" in problem["detail"] or "disk I/O error" in problem["detail"], problem
    assert _quarantined(app) == []  # nothing settled, nothing quarantined
    again = client.post("/v1/ingest/telemetry", content=body, headers=headers)
    assert again.status_code == 200, again.text
    assert (again.json()["stored"], again.json()["duplicates"]) == (20, 0)
    assert [x["payload"] for x in _quarantined(app)] == ["{broken"]
    third = client.post("/v1/ingest/telemetry", content=body, headers=headers)
    assert (third.json()["stored"], third.json()["duplicates"]) == (0, 20)
