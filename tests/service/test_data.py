"""POST /v1/scan and /v1/desensitize on submitted rows; subject deletion; the annual report."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
from service_support import (
    JSONL,
    arrow_stream,
    arrow_table,
    assert_problem,
    entries,
    jsonl,
    message,
    vin,
)

from onshore.ledger import Activity


def test_scan_lists_each_bad_row_then_counts_the_rest(client, keys, monkeypatch) -> None:
    good = [message(0, s) for s in range(2)]
    body = jsonl(good) + b"{oops\n" + b'{"vin": 5}\n' + b"[\n" + jsonl(good)
    r = client.post("/v1/scan", content=body, headers=keys("operator", **JSONL))
    out = r.json()
    assert [b["line"] for b in out["bad_records"]] == [3, 4, 5]
    assert out["bad_records_not_listed"] == 0
    monkeypatch.setattr("onshore.service.routes.data.LISTED", 1)
    out = client.post("/v1/scan", content=body, headers=keys("operator", **JSONL)).json()
    assert [b["line"] for b in out["bad_records"]] == [3]
    assert out["bad_records_not_listed"] == 2


def test_scan_json_lines_and_parquet(app, client, keys) -> None:
    body = jsonl([message(i, s) for i in range(3) for s in range(2)]) + b"{oops\n"
    r = client.post("/v1/scan", content=body, headers=keys("operator", **JSONL))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["level"] == "sensitive_personal" and out["rows"] == 6
    assert out["rows_quarantined"] == 1 and out["bad_records"][0]["line"] == 7
    assert out["assessment"]["distinct_vehicles"] == 3
    sink = io.BytesIO()
    pq.write_table(arrow_table(2, 2), sink)
    r = client.post(
        "/v1/scan",
        content=sink.getvalue(),
        headers=keys("compliance", Content_Type="application/vnd.apache.parquet"),
    )
    assert r.status_code == 200 and r.json()["rows"] == 4
    use = [e for _i, e in entries(app, Activity.USE)]
    assert len(use) == 2 and use[0].decision == "sensitive_personal"
    assert "location.trajectory" in use[0].categories
    assert not list((app.state.onshore.home.path).glob("lake/dataset=*"))  # nothing stored


def test_scan_csv_and_bad_parquet(client, keys) -> None:
    csv = b"vin,ts,speed\nLSVAU2180N2000001,2026-03-02T08:00:00Z,40\n"
    r = client.post("/v1/scan", content=csv, headers=keys("operator", Content_Type="text/csv"))
    assert r.status_code == 200 and r.json()["level"] == "personal"
    r = client.post(
        "/v1/scan",
        content=b"PAR1nope",
        headers=keys("operator", Content_Type="application/vnd.apache.parquet"),
    )
    assert assert_problem(r, 422, "bad-input")["file"] == "request body"


def test_desensitize_json_and_arrow(app, client, keys) -> None:
    body = arrow_stream(arrow_table(3, 4))
    headers = keys("operator", Content_Type="application/vnd.apache.arrow.stream")
    r = client.post("/v1/desensitize?profile=internal-analytics", content=body, headers=headers)
    assert r.status_code == 200, r.text
    out = r.json()
    assert "vin" not in out["columns"] and "vin_pseudonym" in out["columns"]
    assert out["risk"]["promise"]["kept"] is True
    assert len(out["records"]) == out["rows"]
    r = client.post(
        "/v1/desensitize?profile=internal-analytics&output=arrow", content=body, headers=headers
    )
    assert r.status_code == 200
    table = ipc.open_stream(pa.py_buffer(r.content)).read_all()
    assert "vin" not in table.column_names
    assert '"kept":true' in r.headers["x-onshore-risk"]
    r = client.post("/v1/desensitize?profile=/etc/passwd", content=body, headers=headers)
    assert assert_problem(r, 422, "bad-input")["field"] == "profile"


def test_subject_deletion(app, client, keys) -> None:
    body = jsonl([message(i, s) for i in range(3) for s in range(3)])
    client.post("/v1/ingest/telemetry", content=body, headers=keys("ingest", **JSONL))
    r = client.delete(f"/v1/subjects/{vin(1)}?received=2026-09-28", headers=keys("compliance"))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["rows_removed"] == {"telemetry": 3} and out["rows_remaining"] == 0
    assert out["due_date"] > "2026-09-28"
    deletion = entries(app, Activity.DELETION)[-1][1]
    assert deletion.subject == app.state.onshore.home.subject_ref(vin(1))
    assert_problem(
        client.delete("/v1/subjects/NOTAVIN", headers=keys("compliance")), 422, "bad-input"
    )
    assert_problem(
        client.delete(f"/v1/subjects/{vin(1)}", headers=keys("auditor")), 403, "forbidden"
    )


def test_annual_report_download(client, keys) -> None:
    client.post(
        "/v1/ingest/telemetry", content=jsonl([message(1, 0)]), headers=keys("ingest", **JSONL)
    )
    r = client.get("/v1/reports/2026?lang=en&format=md", headers=keys("auditor"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/markdown")
    assert r.content.startswith(b"# Annual")
    assert_problem(client.get("/v1/reports/2026", headers=keys("operator")), 403, "forbidden")


def test_datasets_and_health(client, keys) -> None:
    assert client.get("/v1/health").json()["status"] == "ok"
    client.post(
        "/v1/ingest/telemetry", content=jsonl([message(1, 0)]), headers=keys("ingest", **JSONL)
    )
    listed = client.get("/v1/datasets", headers=keys("auditor")).json()
    assert listed == [
        {
            "dataset": "telemetry",
            "files": 1,
            "rows": 1,
            "bytes": listed[0]["bytes"],
            "levels": ["sensitive_personal"],
            "stores": ["local"],
        }
    ]
