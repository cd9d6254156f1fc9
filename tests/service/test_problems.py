"""Errors are RFC 9457 problem details; Onshore's error tree maps to statuses in one place."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from service_support import JSONL, assert_problem, jsonl, message

from onshore.errors import (
    AreaError,
    BadInput,
    IntegrityError,
    OnshoreError,
    PackError,
    PolicyRefusal,
    StorageError,
)
from onshore.service import ServiceSettings, create_app
from onshore.service.problems import for_error


@pytest.mark.parametrize(
    ("error", "status", "slug"),
    [
        (BadInput("x"), 422, "bad-input"),
        (PackError("x"), 422, "bad-input"),
        (AreaError("x"), 422, "bad-input"),
        (PolicyRefusal("x"), 403, "policy-refusal"),
        (IntegrityError("x"), 409, "integrity-failure"),
        (StorageError("x"), 503, "storage-unavailable"),
        (OnshoreError("x"), 500, "internal"),
    ],
)
def test_the_error_tree_maps_once(error, status, slug) -> None:
    assert for_error(error)[:2] == (status, slug)


def test_bad_input_names_the_field(client, keys) -> None:
    r = client.post(
        "/v1/transfers/assess",
        json={"dataset": "nowhere", "recipient": {"name": "A", "country": "DE"}, "purpose": "p"},
        headers=keys("compliance"),
    )
    body = assert_problem(r, 422, "bad-input")
    assert body["field"] == "dataset"
    assert "nowhere" in body["detail"]


def test_bad_arrow_column_names_record_and_field(client, keys) -> None:
    import pyarrow as pa
    from service_support import ARROW, arrow_stream

    table = pa.table({"vin": ["LSVAU2180N2000001", None], "ts": pa.array([1, 2], pa.int64())})
    r = client.post("/v1/ingest/t", content=arrow_stream(table), headers=keys("ingest", **ARROW))
    body = assert_problem(r, 422, "bad-input")
    assert (body["file"], body["record"], body["field"]) == ("request body", 1, "vin")


def test_request_validation_is_422_with_the_field(client, keys) -> None:
    r = client.get("/v1/ledger/proofs/inclusion/-1", headers=keys("auditor"))
    body = assert_problem(r, 422, "bad-input")
    assert body["field"] == "index"


def test_malformed_json_is_400(client, keys) -> None:
    r = client.post(
        "/v1/consents",
        content=b"{not json",
        headers=keys("compliance", Content_Type="application/json"),
    )
    assert_problem(r, 400, "malformed-request")


def test_unsupported_media_type_is_415(client, keys) -> None:
    r = client.post(
        "/v1/ingest/telemetry", content=b"<xml/>", headers=keys("ingest", Content_Type="text/xml")
    )
    body = assert_problem(r, 415, "unsupported-media-type")
    assert "application/x-ndjson" in body["accepted"]


def test_unknown_path_and_method_are_problems(client) -> None:
    assert_problem(client.get("/v1/nothing"), 404, "not-found")
    assert_problem(client.put("/v1/health"), 405, "method-not-allowed")


def test_bodies_over_the_limit_are_413(tmp_path: Path) -> None:
    app = create_app(ServiceSettings(home=tmp_path / "h", max_body_bytes=1000), environ={})
    key = app.state.onshore.keys.add("ingest", name="t").key
    with TestClient(app) as client:
        big = jsonl([message(1, s) for s in range(50)])
        assert len(big) > 1000
        r = client.post("/v1/ingest/t", content=big, headers={"X-API-Key": key, **JSONL})
        body = assert_problem(r, 413, "payload-too-large")
        assert body["max_body_bytes"] == 1000

        def chunks():  # no Content-Length: counted as it arrives
            for s in range(50):
                yield jsonl([message(1, s)])

        r = client.post("/v1/ingest/t", content=chunks(), headers={"X-API-Key": key, **JSONL})
        assert_problem(r, 413, "payload-too-large")
        small = jsonl([message(1, 0)])
        assert (
            client.post(
                "/v1/ingest/t", content=small, headers={"X-API-Key": key, **JSONL}
            ).status_code
            == 200
        )


def test_a_tampered_ledger_is_409_not_500(app, client, keys, home_path) -> None:
    client.post(
        "/v1/ingest/telemetry", content=jsonl([message(1, 0)]), headers=keys("ingest", **JSONL)
    )
    assert client.get("/v1/ledger/verify", headers=keys("auditor")).json()["ok"] is True
    db = sqlite3.connect(home_path / "meta.db")
    (blob,) = db.execute("SELECT entry FROM ledger_entries WHERE idx = 0").fetchone()
    changed = bytes(blob).replace(b'"rows":1', b'"rows":7')
    assert changed != bytes(blob)
    db.execute("UPDATE ledger_entries SET entry = ? WHERE idx = 0", (changed,))
    db.commit()
    db.close()
    body = assert_problem(
        client.get("/v1/ledger/verify", headers=keys("auditor")), 409, "integrity-failure"
    )
    assert body["report"]["first_bad_index"] == 0
    assert "0" in body["detail"]
