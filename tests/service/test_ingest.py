"""POST /v1/ingest: JSON lines, Arrow IPC and GB/T 32960 frames through the one pipeline."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from service_support import (
    ARROW,
    FRAMES,
    JSONL,
    arrow_stream,
    arrow_table,
    assert_problem,
    entries,
    gbt_frame,
    jsonl,
    message,
)

from onshore.ingest import KeyIndex
from onshore.ledger import Activity
from onshore.service.state import WORKER
from onshore.store import Lake


def _lake_rows(app, dataset: str) -> int:
    home = app.state.onshore.home
    roots = {s.name: s.root for s in home.stores()}
    return sum(
        pq.read_metadata(roots[f.store] / f.path).num_rows
        for f in Lake(home).files(dataset=dataset)
    )


def test_json_lines_are_stored_once_and_bad_lines_reported(app, client, keys) -> None:
    good = [message(i, s) for i in range(3) for s in range(4)]
    body = jsonl(good[:6]) + b"\n{broken\n" + jsonl(good[6:]) + b'{"ts": 1}\n'
    r = client.post("/v1/ingest/telemetry", content=body, headers=keys("ingest", **JSONL))
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["messages"], out["rows"], out["stored"], out["duplicates"]) == (14, 12, 12, 0)
    assert out["rejected_messages"] == 2
    assert [(x["record"], x["field"]) for x in out["rejections"]] == [(7, None), (14, "vin")]
    assert out["level"] == "sensitive_personal"
    assert (app.state.onshore.home.path / out["quarantine"]).is_file()
    assert _lake_rows(app, "telemetry") == 12
    # Sent again (a client retrying): every row is a duplicate, nothing stored twice.
    again = client.post("/v1/ingest/telemetry", content=body, headers=keys("ingest", **JSONL))
    assert (again.json()["stored"], again.json()["duplicates"]) == (0, 12)
    assert _lake_rows(app, "telemetry") == 12
    kinds = [e.kind for _i, e in entries(app)]
    assert kinds.count(Activity.COLLECTION) == 1 and kinds.count(Activity.STORAGE) == 1


def test_arrow_ipc_is_stored_once(app, client, keys) -> None:
    table = arrow_table(vehicles=5, seconds=10)
    body = arrow_stream(table)
    r = client.post("/v1/ingest/arrow_t", content=body, headers=keys("operator", **ARROW))
    assert r.status_code == 200, r.text
    assert (r.json()["stored"], r.json()["format"]) == (50, "arrow")
    more = arrow_stream(arrow_table(vehicles=6, seconds=10))  # 10 new rows, 50 seen
    r = client.post("/v1/ingest/arrow_t", content=more, headers=keys("operator", **ARROW))
    assert (r.json()["stored"], r.json()["duplicates"]) == (10, 50)
    assert _lake_rows(app, "arrow_t") == 60
    index = KeyIndex(app.state.onshore.home, WORKER)
    assert index.pending() == []


def test_arrow_ipc_file_and_epoch_ms(client, keys) -> None:
    table = pa.table({"vin": ["LSVAU2180N2000001"], "ts": pa.array([1767225600000], pa.int64())})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    r = client.post(
        "/v1/ingest/t",
        content=sink.getvalue().to_pybytes(),
        headers=keys("ingest", Content_Type="application/vnd.apache.arrow.file"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["stored"] == 1


def test_arrow_without_ts_or_with_naive_ts_is_bad_input(client, keys) -> None:
    no_ts = pa.table({"vin": ["LSVAU2180N2000001"]})
    r = client.post("/v1/ingest/t", content=arrow_stream(no_ts), headers=keys("ingest", **ARROW))
    assert assert_problem(r, 422, "bad-input")["field"] == "ts"
    naive = pa.table({"vin": ["LSVAU2180N2000001"], "ts": pa.array([1], pa.timestamp("ms"))})
    r = client.post("/v1/ingest/t", content=arrow_stream(naive), headers=keys("ingest", **ARROW))
    assert assert_problem(r, 422, "bad-input")["field"] == "ts"
    r = client.post("/v1/ingest/t", content=b"not arrow", headers=keys("ingest", **ARROW))
    assert_problem(r, 400, "malformed-request")


def test_gbt32960_frames(app, client, keys) -> None:
    frames = b"".join(gbt_frame(i, s) for i in range(3) for s in range(2))
    r = client.post("/v1/ingest/ev", content=frames, headers=keys("ingest", **FRAMES))
    assert r.status_code == 200, r.text
    assert r.json()["stored"] == 6
    assert _lake_rows(app, "ev") == 6
    broken = frames[:-1] + bytes([frames[-1] ^ 0xFF])  # bad BCC on the last frame
    r = client.post("/v1/ingest/ev2", content=broken, headers=keys("ingest", **FRAMES))
    out = r.json()
    assert out["rejected_messages"] == 1 and out["rejections"][0]["offset"] is not None


def test_each_rejected_frame_is_listed(app, client, keys, monkeypatch) -> None:
    """A body of many frames: every rejected frame is listed (frame, offset, field, reason),
    not just the first of the message; past the bound the rest are counted."""
    frames = [gbt_frame(i, s) for i in range(3) for s in range(3)]
    bad = {1, 4, 5, 8}
    body = b"".join(f[:-1] + bytes([f[-1] ^ 0xFF]) if k in bad else f for k, f in enumerate(frames))
    r = client.post("/v1/ingest/ev3", content=body, headers=keys("ingest", **FRAMES))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["stored"] == len(frames) - len(bad)
    assert out["rejected_records"] == len(bad) and out["rejections_not_listed"] == 0
    assert [x["frame"] for x in out["rejections"]] == sorted(bad)
    assert {x["field"] for x in out["rejections"]} == {"bcc"}
    assert all(x["record"] == 0 and x["reason"].startswith("check code") for x in out["rejections"])
    monkeypatch.setattr("onshore.service.routes.ingest.LISTED", 2)
    r = client.post("/v1/ingest/ev4", content=body, headers=keys("ingest", **FRAMES))
    out = r.json()
    assert [x["frame"] for x in out["rejections"]] == sorted(bad)[:2]
    assert (out["rejected_records"], out["rejections_not_listed"]) == (4, 2)


@pytest.mark.real_data
def test_real_frames_list_every_rejection(app, client, keys, real_data) -> None:
    """The 113 captured frames (PROVENANCE.md): 99 are rejected (98 fail their check code, one
    is cut short), and each of the 99 is listed."""
    path = real_data / "gbt32960_frames" / "frames.txt"
    if not path.exists():
        pytest.skip(f"{path} not present")
    body = b"".join(bytes.fromhex(line) for line in path.read_text().split())
    r = client.post("/v1/ingest/real", content=body, headers=keys("ingest", **FRAMES))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["rejected_records"] == len(out["rejections"]) == 99
    assert len({x["frame"] for x in out["rejections"]}) == 99
    assert out["rows"] == 11


def test_empty_body_unknown_purpose_and_store(client, keys) -> None:
    assert_problem(
        client.post("/v1/ingest/t", content=b"", headers=keys("ingest", **JSONL)),
        400,
        "malformed-request",
    )
    body = jsonl([message(1, 0)])
    r = client.post("/v1/ingest/t?purpose=nope", content=body, headers=keys("ingest", **JSONL))
    assert_problem(r, 422, "bad-input")
    r = client.post("/v1/ingest/t?store=nowhere", content=body, headers=keys("ingest", **JSONL))
    assert assert_problem(r, 422, "bad-input")["field"] == "store"


def test_writing_personal_data_to_a_store_abroad_is_refused(app, client, keys) -> None:
    home = app.state.onshore.home
    home.add_store("frankfurt", jurisdiction="DE", location="a data centre in Frankfurt")
    body = jsonl([message(1, s) for s in range(3)])
    r = client.post("/v1/ingest/t?store=frankfurt", content=body, headers=keys("ingest", **JSONL))
    body_out = assert_problem(r, 403, "policy-refusal")
    assert body_out["outcome"]["stored"] == 0
    table = arrow_stream(arrow_table(2, 2))
    r = client.post("/v1/ingest/t2?store=frankfurt", content=table, headers=keys("ingest", **ARROW))
    assert_problem(r, 403, "policy-refusal")
    assert any(e.kind == Activity.POLICY_REFUSAL for _i, e in entries(app))
    assert json.dumps(r.json())  # a problem body is plain JSON


def test_a_batch_a_killed_service_left_pending_is_settled_on_start(tmp_path) -> None:
    from onshore.service import ServiceSettings, create_app
    from onshore.store import DataHome

    home = tmp_path / "h"
    with DataHome(home, environ={}) as data_home:
        index = KeyIndex(data_home, WORKER)
        index.claim("telemetry", "national_monitoring", [("LSVAU2180N2000001", 1, "json")])
        assert len(index.pending()) == 1
    app = create_app(ServiceSettings(home=home), environ={})
    try:
        assert KeyIndex(app.state.onshore.home, WORKER).pending() == []
    finally:
        app.state.onshore.close()
