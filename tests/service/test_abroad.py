"""A client abroad reading personal or important data is remote access: the transfer gate."""

from __future__ import annotations

import io
import zipfile

import pyarrow as pa
from service_support import JSONL, arrow_table, assert_problem, entries, jsonl, message, vin

from onshore.classify import Classifier
from onshore.ledger import Activity
from onshore.store import Lake


def _fleet(client, keys, vehicles: int = 3) -> None:
    body = jsonl([message(i, s) for i in range(vehicles) for s in range(5)])
    r = client.post("/v1/ingest/telemetry", content=body, headers=keys("ingest", **JSONL))
    assert r.status_code == 200, r.text


def _consent(client, keys, i: int) -> None:
    r = client.post(
        "/v1/consents",
        json={
            "vin": vin(i),
            "category": "location.trajectory",
            "purpose": "navigation",
            "days": 30,
        },
        headers=keys("compliance"),
    )
    assert r.status_code == 201, r.text


def test_subject_export_from_abroad_is_refused_with_the_gates_reasons(app, client, keys) -> None:
    _fleet(client, keys)
    r = client.post(
        f"/v1/subjects/{vin(1)}/export", headers=keys("compliance", X_Onshore_Client_Country="DE")
    )
    body = assert_problem(r, 403, "remote-access-refused")
    assert body["mechanism"] == "standard_contract_or_certification"
    rules = [x["rule_id"] for x in body["reasons"]]
    assert "cn-auto/transfer/remote-access" in rules
    assert body["missing"] and "test compliance" in body["missing"][0]
    assert body["decision"]["access_mode"] == "remote_access"
    kinds = [e.kind for _i, e in entries(app)]
    assert Activity.POLICY_REFUSAL in kinds
    assert Activity.VIEW not in kinds  # nothing was read out
    outbox = app.state.onshore.home.path / "outbox"
    assert not [p for p in outbox.iterdir() if not p.name.startswith(".")]


def test_the_same_export_from_china_is_allowed_and_on_the_ledger(app, client, keys) -> None:
    _fleet(client, keys)
    for headers in (keys("compliance"), keys("compliance", X_Onshore_Client_Country="CN")):
        r = client.post(f"/v1/subjects/{vin(1)}/export", headers=headers)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/zip"
        names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
        assert "vehicle.json" in names and any(n.endswith(".parquet") for n in names)
    views = [e for _i, e in entries(app, Activity.VIEW)]
    assert len(views) == 2
    assert views[0].subject == app.state.onshore.home.subject_ref(vin(1))


def test_a_read_the_gate_allows_is_recorded_as_an_export(app, client, keys) -> None:
    _consent(client, keys, 1)
    headers = keys("auditor", X_Onshore_Client_Country="de", X_Onshore_Purpose="audit")
    r = client.get("/v1/consents", headers=headers)
    assert r.status_code == 200, r.text
    out = r.json()
    assert len(out["consents"]) == 1
    remote = out["remote_access"]
    assert remote["allowed"] is True and remote["access_mode"] == "remote_access"
    assert remote["recipient"] == {"name": "test auditor", "country": "DE", "contact": ""}
    exports = [e for _i, e in entries(app, Activity.EXPORT)]
    assert len(exports) == 1 and exports[0].details["country"] == "DE"
    assert exports[0].purpose == "audit"
    assert "cn-auto/transfer/remote-access" in exports[0].reasons


def test_a_key_issued_abroad_stays_abroad_whatever_it_declares(app, client) -> None:
    key = app.state.onshore.keys.add("compliance", name="Acme GmbH", country="DE").key
    body = jsonl([message(1, s) for s in range(3)])
    ingest_key = app.state.onshore.keys.add("ingest", name="gw").key
    client.post("/v1/ingest/telemetry", content=body, headers={"X-API-Key": ingest_key, **JSONL})
    r = client.post(
        f"/v1/subjects/{vin(1)}/export",
        headers={"X-API-Key": key, "X-Onshore-Client-Country": "CN"},
    )
    assert_problem(r, 403, "remote-access-refused")


def test_an_approval_on_record_lets_the_read_through(app, client, keys) -> None:
    _fleet(client, keys)
    r = client.post(
        "/v1/approvals",
        json={
            "id": "SCC-2026-01",
            "kind": "standard_contract",
            "recipient": "test compliance",
            "issued": "2026-01-05",
        },
        headers=keys("compliance"),
    )
    assert r.status_code == 201, r.text
    r = client.post(
        f"/v1/subjects/{vin(1)}/export", headers=keys("compliance", X_Onshore_Client_Country="DE")
    )
    assert r.status_code == 200, r.text
    exports = [e for _i, e in entries(app, Activity.EXPORT)]
    assert exports and exports[-1].details["approval"] == "SCC-2026-01"
    # the ledger (and so the annual report) names the read, never the vehicle
    assert exports[-1].dataset == "remote access: subject export"
    assert vin(1) not in exports[-1].dataset and vin(1) not in exports[-1].purpose


def test_a_bad_country_header_is_400(client, keys) -> None:
    r = client.get("/v1/consents", headers=keys("auditor", X_Onshore_Client_Country="Germany"))
    assert assert_problem(r, 400, "malformed-request")["field"] == "X-Onshore-Client-Country"


def test_non_personal_reads_from_abroad_need_no_gate(app, client, keys) -> None:
    _fleet(client, keys)
    headers = keys("auditor", X_Onshore_Client_Country="DE")
    assert client.get("/v1/ledger/verify", headers=headers).status_code == 200
    assert client.get("/v1/ledger/proofs/inclusion/0", headers=headers).status_code == 200
    assert not [e for _i, e in entries(app, Activity.EXPORT)]


def _put(home, dataset: str, table: pa.Table) -> None:  # type: ignore[no-untyped-def]
    """Straight into the lake, with every column (ingest keeps only the telemetry ones)."""
    classifier = Classifier(home.pack)
    labelled = [classifier.classify_batch(b).labelled() for b in table.to_batches()]
    home.stores()  # the default store
    staged = Lake(home).stage(dataset, store="local", origin="CN", vin_column="vin", ts_column="ts")
    for batch in labelled:
        staged.add(batch)
    staged.commit(level=classifier.assessment().level, categories=())


def test_a_subject_export_counts_the_owner_of_rows_without_a_driver_id(app, client, keys) -> None:
    # the vehicle's rows from two datasets, one naming a driver: the gate sees a table whose
    # driver_id is null in the other dataset's rows, which are the owner's
    _fleet(client, keys)
    trips = arrow_table(3, 2)
    _put(app.state.onshore.home, "trips", trips.append_column("driver_id", pa.array(["d-1"] * 6)))
    r = client.post(
        f"/v1/subjects/{vin(1)}/export", headers=keys("compliance", X_Onshore_Client_Country="DE")
    )
    counts = assert_problem(r, 403, "remote-access-refused")["decision"]["counts"]
    assert counts["individuals"] == 2  # the driver d-1, and the owner for the other rows
    assert counts["sensitive_individuals"] == 2
