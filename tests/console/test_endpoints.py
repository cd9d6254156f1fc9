"""The console's JSON endpoints through TestClient, on a copy of the seeded demo home."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from console_support import Seeded
from fastapi.testclient import TestClient

from onshore.ledger import Activity
from onshore.report import collect
from onshore.service import ServiceSettings, create_app
from onshore.service.console import STATIC
from onshore.store import DataHome, Lake
from onshore.transfer import transfer_policy


@pytest.fixture
def client(seeded: Seeded) -> Iterator[TestClient]:
    app = create_app(ServiceSettings(home=seeded.home), environ={})
    with TestClient(app) as c:
        yield c


def auth(seeded: Seeded, role: str) -> dict[str, str]:
    return {"X-API-Key": seeded.keys[role]}


def views(home: Path) -> list[Any]:
    with DataHome(home, environ={}) as h:
        return [e for _i, e in h.ledger.entries(kind=Activity.VIEW)]


def test_session_lists_what_the_role_may_call(client: TestClient, seeded: Seeded) -> None:
    auditor = client.get("/v1/console/session", headers=auth(seeded, "auditor")).json()
    assert auditor["role"] == "auditor" and auditor["allowed"]
    # An auditor reads; its one POST checks a report against the ledger and changes nothing
    # (tests/service/test_abroad_routes.py shows it leaves every table as it was).
    checks = {"POST /v1/reports/verify"}
    assert all(op.startswith("GET ") or op in checks for op in auditor["allowed"])
    assert auditor["changes"] == []  # the console shows it read-only
    compliance = client.get("/v1/console/session", headers=auth(seeded, "compliance")).json()
    assert "POST /v1/transfers/run" in compliance["allowed"]
    assert "POST /v1/transfers/run" in compliance["changes"]
    assert "POST /v1/reports/verify" not in compliance["changes"]
    assert "POST /v1/console/transfers/run/upload" in compliance["allowed"]
    assert "contract_necessity" in compliance["exemptions"]
    assert client.get("/v1/console/session").status_code == 401


def test_overview_thresholds_come_from_the_pack_and_move_with_exports(
    client: TestClient, seeded: Seeded
) -> None:
    headers = auth(seeded, "compliance")
    before = client.get("/v1/console/overview", headers=headers).json()
    with DataHome(seeded.home, environ={}) as home:
        tiers = transfer_policy(home.pack).tiers
        from onshore.config import load_config

        scale = collect(home, load_config(None, home=home.path), before["year"])
    total = next(r for r in scale["tables"]["scale"]["rows"] if r[0] == "*")
    assert (before["records"], before["individuals"], before["vehicles"]) == tuple(total[1:])
    measures = {m["measure"]: m for m in before["thresholds"]["measures"]}
    wanted = {
        "non_sensitive": sorted(
            [
                tiers.standard_contract_or_certification.non_sensitive_gte,
                tiers.security_assessment.non_sensitive_gte,
            ]
        ),
        "sensitive": sorted(
            [
                tiers.standard_contract_or_certification.sensitive_gte,
                tiers.security_assessment.sensitive_gte,
            ]
        ),
    }
    for name, thresholds in wanted.items():
        assert [s["gte"] for s in measures[name]["tiers"]] == thresholds
        assert measures[name]["value"] == 0
        assert measures[name]["next"]["headroom"] == thresholds[0]
    levels = {k for d in before["timeline"]["by_level"] for k in d if k != "date"}
    assert levels <= set(before["levels"]) and "important" in levels

    body = {
        "dataset": "owners",
        "purpose": "r_and_d",
        "recipient": {"name": "A", "country": "DE"},
        "impact_assessment": "PIA-1",
        "outbound_basis": "contract",
        "outbound_basis_note": "owners' service contract clause 3",
    }
    ran = client.post("/v1/transfers/run", json=body, headers=headers)
    assert ran.status_code == 200, ran.text
    after = client.get("/v1/console/overview", headers=headers).json()
    moved = {m["measure"]: m for m in after["thresholds"]["measures"]}["non_sensitive"]
    assert moved["value"] == ran.json()["counts"]["individuals"] == 12
    assert moved["next"]["headroom"] == wanted["non_sensitive"][0] - 12
    assert after["exports"] and after["exports"][0]["recipient"] == "A"


def test_approvals_carry_the_renewal_window(client: TestClient, seeded: Seeded) -> None:
    headers = auth(seeded, "compliance")
    added = client.post(
        "/v1/approvals",
        json={"id": "SA-1", "kind": "security_assessment", "issued": "2024-02-01"},
        headers=headers,
    )
    assert added.status_code == 201, added.text
    data = client.get("/v1/console/approvals", headers=auth(seeded, "auditor")).json()
    (row,) = data["approvals"]
    assert row["expires"] == "2027-02-01"  # 3 years after issue, from transfer.yaml
    assert row["renew_from"] < row["expires"]
    assert row["status"] in ("valid", "renew now")


def test_upload_assess_and_run_respect_roles(client: TestClient, seeded: Seeded) -> None:
    body = (seeded.sample / "charging_sessions.parquet").read_bytes()
    query = (
        "recipient=Acme&country=DE&purpose=r_and_d&name=sessions.parquet"
        "&impact_assessment=PIA-1&outbound_basis=contract&outbound_basis_note=clause+3"
    )
    media = {"Content-Type": "application/vnd.apache.parquet"}
    assessed = client.post(
        f"/v1/console/transfers/assess/upload?{query}",
        content=body,
        headers=auth(seeded, "operator") | media,
    )
    assert assessed.status_code == 200, assessed.text
    decision = assessed.json()
    assert decision["dataset"] == "upload:sessions.parquet" and decision["reasons"]
    refused = client.post(
        f"/v1/console/transfers/run/upload?{query}",
        content=body,
        headers=auth(seeded, "operator") | media,
    )
    assert refused.status_code == 403 and refused.json()["type"].endswith(":forbidden")
    auditor = client.post(
        f"/v1/console/transfers/assess/upload?{query}",
        content=body,
        headers=auth(seeded, "auditor") | media,
    )
    assert auditor.status_code == 403
    ran = client.post(
        f"/v1/console/transfers/run/upload?{query}",
        content=body,
        headers=auth(seeded, "compliance") | media,
    )
    assert ran.status_code == 200, ran.text
    manifest = json.loads(Path(ran.json()["package"], "manifest.json").read_text("utf-8"))
    assert manifest["dataset"] == "upload:sessions.parquet"  # not the staging path
    with DataHome(seeded.home, environ={}) as h:
        *_, (_i, last) = h.ledger.entries()
    assert last.dataset == "upload:sessions.parquet"
    assert not list((seeded.home / "outbox" / ".uploads").iterdir())
    unsupported = client.post(
        f"/v1/console/transfers/assess/upload?{query}",
        content=b"x",
        headers=auth(seeded, "compliance") | {"Content-Type": "image/png"},
    )
    assert unsupported.status_code == 415


def test_subject_lookup_and_request_queue_are_views(client: TestClient, seeded: Seeded) -> None:
    headers = auth(seeded, "compliance")
    held = client.get(f"/v1/console/subjects/{seeded.vin}", headers=headers).json()
    rows = {d["dataset"]: d["rows"] for d in held["datasets"]}
    assert rows["owners"] == 1 and rows["telemetry"] > 0
    for d in held["datasets"]:
        assert 0 < len(d["sample"]) <= min(d["rows"], 10) and "vin" in d["sample_columns"]
        assert {r["vin"] for r in d["sample"]} == {seeded.vin}
    seen = views(seeded.home)
    assert seen[-1].subject == held["subject"] and seen[-1].dataset == "subjects"

    deleted = client.delete(
        f"/v1/subjects/{seeded.vin}?received=2026-01-05T09:00:00Z", headers=headers
    )
    assert deleted.status_code == 200, deleted.text
    queue = client.get("/v1/console/requests", headers=auth(seeded, "auditor")).json()
    (late,) = [r for r in queue["requests"] if r["kind"] == "deletion"]
    assert late["due_date"] == deleted.json()["due_date"] and late["overdue"] is True
    assert queue["due_working_days"] == 10
    assert views(seeded.home)[-1].dataset == "subject_requests"
    gone = client.get(f"/v1/console/subjects/{seeded.vin}", headers=headers).json()
    assert gone["datasets"] == [] and [r["kind"] for r in gone["requests"]] == ["deletion"]


def test_ledger_search_filters_and_records_subject_reads(
    client: TestClient, seeded: Seeded
) -> None:
    headers = auth(seeded, "auditor")
    stored = client.get("/v1/console/ledger/entries?kind=storage", headers=headers).json()
    assert {e["dataset"] for e in stored["entries"]} == {"telemetry", "owners", "charging_sessions"}
    assert [e["index"] for e in stored["entries"]] == sorted(
        (e["index"] for e in stored["entries"]), reverse=True
    )
    found = client.get("/v1/console/ledger/entries?q=OWNERS", headers=headers).json()
    assert found["entries"] and all("owners" in json.dumps(e) for e in found["entries"])
    before = len(views(seeded.home))
    client.get(f"/v1/console/subjects/{seeded.vin}", headers=auth(seeded, "compliance"))
    assert len(views(seeded.home)) == before + 1
    client.get("/v1/console/ledger/entries?kind=view", headers=headers)  # names a subject
    assert views(seeded.home)[-1].dataset == "ledger"
    bad = client.get("/v1/console/ledger/entries?kind=nonsense", headers=headers)
    assert bad.status_code == 422 and bad.json()["field"] == "kind"


def test_areas_and_their_hits_match_the_stored_labels(client: TestClient, seeded: Seeded) -> None:
    headers = auth(seeded, "operator")
    catalogue = client.get("/v1/console/areas", headers=headers).json()
    source = json.loads((seeded.home / "areas.geojson").read_text())
    assert [f["properties"]["id"] for f in catalogue["features"]] == [
        f["properties"]["id"] for f in source["features"]
    ]
    hits = client.get("/v1/console/areas/hits?dataset=telemetry", headers=headers).json()
    with DataHome(seeded.home, environ={}) as home:
        stored: dict[str, int] = {}
        for store, f in Lake(home).all_files():
            if f.dataset != "telemetry":
                continue
            area = pq.read_table(store.root / f.path, columns=["onshore_area"]).column(0)
            for item in pc.value_counts(area.drop_null()).to_pylist():
                stored[item["values"]] = stored.get(item["values"], 0) + item["counts"]
    assert {a["id"]: a["hits"] for a in hits["areas"]} == stored
    assert hits["hits"] == sum(stored.values()) == len(hits["points"])
    assert all(set(p) == {"lon", "lat", "area", "level"} for p in hits["points"])
    assert views(seeded.home)[-1].dataset == "telemetry"
    missing = client.get("/v1/console/areas/hits?dataset=nope", headers=headers)
    assert missing.status_code == 422


def test_notice_static_files_and_root(client: TestClient, seeded: Seeded) -> None:
    for lang, word in (("zh", "个人信息"), ("en", "personal information")):
        notice = client.get(f"/v1/console/notice?lang={lang}", headers=auth(seeded, "auditor"))
        assert notice.status_code == 200 and word in notice.text.lower()
    assert client.get("/v1/console/notice", headers=auth(seeded, "operator")).status_code == 403
    root = client.get("/", follow_redirects=False)
    assert root.status_code == 307 and root.headers["location"] == "/console/"
    page = client.get("/console/")
    assert page.status_code == 200 and 'src="js/app.js"' in page.text
    assert client.get("/console/js/app.js").headers["content-type"].startswith("text/javascript")
    en = json.loads((STATIC / "i18n" / "en.json").read_text(encoding="utf-8"))
    zh = json.loads((STATIC / "i18n" / "zh.json").read_text(encoding="utf-8"))
    assert set(en) == set(zh)
    assert all(zh[k] for k in zh)


def test_reads_from_abroad_pass_the_transfer_gate(client: TestClient, seeded: Seeded) -> None:
    abroad = auth(seeded, "compliance") | {"X-Onshore-Client-Country": "DE"}
    held = client.get(f"/v1/console/subjects/{seeded.vin}", headers=abroad)
    assert held.status_code == 403, held.text
    assert held.json()["type"] == "urn:onshore:problem:remote-access-refused"
    assert held.json()["reasons"]
    hits = client.get("/v1/console/areas/hits?dataset=telemetry", headers=abroad)
    assert hits.status_code == 403 and hits.json()["mechanism"] == "security_assessment"
    with DataHome(seeded.home, environ={}) as home:
        refused = [e for _i, e in home.ledger.entries(kind=Activity.POLICY_REFUSAL)]
    assert len(refused) == 2
    # aggregates are no personal data: the overview answers abroad too
    assert client.get("/v1/console/overview", headers=abroad).status_code == 200
