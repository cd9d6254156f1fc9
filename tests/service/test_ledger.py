"""Ledger endpoints (verify, head, proofs) and the entries every read of personal data leaves."""

from __future__ import annotations

from service_support import JSONL, assert_problem, entries, jsonl, message, vin

from onshore.ledger import (
    Activity,
    ConsistencyProof,
    InclusionProof,
    verify_consistency_proof,
    verify_inclusion_proof,
)


def _ingest(client, keys) -> None:
    body = jsonl([message(i, s) for i in range(2) for s in range(3)])
    assert (
        client.post(
            "/v1/ingest/telemetry", content=body, headers=keys("ingest", **JSONL)
        ).status_code
        == 200
    )


def test_verify_head_and_proofs_check_with_the_public_key(app, client, keys) -> None:
    _ingest(client, keys)
    _ingest(client, keys)  # duplicates: no new entries
    head = client.get("/v1/ledger/head", headers=keys("auditor")).json()["signed_tree_head"]
    assert head["tree_size"] == 2
    public = app.state.onshore.home.ledger.public_keys
    proof = client.get("/v1/ledger/proofs/inclusion/1", headers=keys("auditor")).json()
    verify_inclusion_proof(InclusionProof.from_dict(proof), public)
    client.post("/v1/scan", content=jsonl([message(1, 0)]), headers=keys("operator", **JSONL))
    consistency = client.get(
        "/v1/ledger/proofs/consistency?old_size=2", headers=keys("auditor")
    ).json()
    verify_consistency_proof(ConsistencyProof.from_dict(consistency), public)
    assert consistency["new_size"] == 3


def test_proof_of_a_missing_entry_is_bad_input(client, keys) -> None:
    _ingest(client, keys)
    body = assert_problem(
        client.get("/v1/ledger/proofs/inclusion/99", headers=keys("auditor")), 422, "bad-input"
    )
    assert body["field"] == "index"
    r = client.get("/v1/ledger/proofs/consistency?old_size=5", headers=keys("auditor"))
    assert_problem(r, 422, "bad-input")


def test_reads_of_personal_data_are_on_the_ledger(app, client, keys) -> None:
    home = app.state.onshore.home
    r = client.post(
        "/v1/consents",
        json={
            "vin": vin(1),
            "category": "location.trajectory",
            "purpose": "navigation",
            "days": 30,
        },
        headers=keys("compliance"),
    )
    assert r.status_code == 201
    before = len(entries(app, Activity.VIEW))
    r = client.get(f"/v1/consents?vin={vin(1)}", headers=keys("auditor"))
    assert r.status_code == 200 and len(r.json()["consents"]) == 1
    views = entries(app, Activity.VIEW)
    assert len(views) == before + 1
    _index, view = views[-1]
    assert view.dataset == "consents" and view.counts == {"consents": 1}
    assert view.subject == home.subject_ref(vin(1))
    assert view.actor.startswith("api:test auditor")
    # A proof of an entry that names a subject is a read too.
    grant_index = next(i for i, e in entries(app, Activity.CONSENT_CHANGE))
    proof = client.get(f"/v1/ledger/proofs/inclusion/{grant_index}", headers=keys("auditor")).json()
    assert proof["entry"]["subject"] == home.subject_ref(vin(1))
    last = entries(app, Activity.VIEW)[-1][1]
    assert last.dataset == "ledger" and last.details["index"] == grant_index
