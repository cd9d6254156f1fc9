"""The risk assessment over HTTP (Provisions 2021 Art. 10; issue 18 item 11): generated and
recorded by a compliance key at home, listed for compliance and auditors."""

from __future__ import annotations

import hashlib

from service_support import JSONL, assert_problem, jsonl, message

from onshore.report.annual import read_block
from onshore.report.risk import digest


def test_a_risk_assessment_is_made_recorded_and_listed(client, keys) -> None:  # type: ignore[no-untyped-def]
    r = client.post(
        "/v1/ingest/telemetry", content=jsonl([message(1, 0)]), headers=keys("ingest", **JSONL)
    )
    assert r.status_code == 200, r.text
    r = client.post(
        "/v1/reports/2026/risk-assessment?lang=en&format=md", headers=keys("compliance")
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/markdown")
    assert r.content.startswith(b"# Risk assessment of important-data processing")
    made = r.headers["x-onshore-assessment-id"]
    assert r.headers["x-onshore-assessment-digest"] == digest(read_block(r.content))
    listed = client.get("/v1/risk-assessments?year=2026", headers=keys("auditor"))
    assert listed.status_code == 200, listed.text
    (entry,) = listed.json()
    assert entry["id"] == made and entry["year"] == 2026
    assert entry["digest"] == r.headers["x-onshore-assessment-digest"]
    (document,) = entry["documents"]
    assert document["sha256"] == hashlib.sha256(r.content).hexdigest()
    assert client.get("/v1/risk-assessments?year=2025", headers=keys("auditor")).json() == []
    # the annual report cites it
    report = client.get("/v1/reports/2026?lang=en&format=md", headers=keys("auditor"))
    assert made.encode() in report.content
    # only compliance makes one (it is a ledger entry); an operator reads neither
    assert_problem(
        client.post("/v1/reports/2026/risk-assessment", headers=keys("auditor")), 403, "forbidden"
    )
    assert_problem(client.get("/v1/risk-assessments", headers=keys("operator")), 403, "forbidden")
