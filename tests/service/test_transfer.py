"""Transfers of lake datasets over HTTP: assess (a value), run (403 or the package), approvals."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from fastapi.testclient import TestClient
from service_support import AREAS, JSONL, Keys, assert_problem, entries, jsonl, message

from onshore.cli import cli
from onshore.config import load_config
from onshore.ledger import Activity
from onshore.report import collect
from onshore.service import ROLES, ServiceSettings, create_app
from onshore.transfer.registry import Registry

REQUEST = {
    "dataset": "telemetry",
    "recipient": {"name": "Acme GmbH", "country": "DE"},
    "purpose": "warranty analytics",
    "impact_assessment": "PIA-2026-01",  # PIPL Art. 55
    "outbound_basis": "contract",  # PIPL Art. 39
    "outbound_basis_note": "warranty contract clause 12",
}


def _ingest(client, keys) -> None:
    body = jsonl([message(i, s) for i in range(4) for s in range(5)])
    assert (
        client.post(
            "/v1/ingest/telemetry", content=body, headers=keys("ingest", **JSONL)
        ).status_code
        == 200
    )


def test_assess_run_refused_then_allowed_with_an_approval(app, client, keys) -> None:
    _ingest(client, keys)
    r = client.post("/v1/transfers/assess", json=REQUEST, headers=keys("operator"))
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["dataset"], out["allowed"]) == ("telemetry", False)
    assert out["mechanism"] == "standard_contract_or_certification"
    assert out["counts"]["individuals"] == 4
    r = client.post("/v1/transfers/run", json=REQUEST, headers=keys("compliance"))
    body = assert_problem(r, 403, "policy-refusal")
    assert body["missing"] and body["reasons"]
    assert entries(app, Activity.POLICY_REFUSAL)
    approval = {
        "id": "SCC-1",
        "kind": "standard_contract",
        "recipient": "Acme GmbH",
        "issued": "2026-01-05",
    }
    r = client.post("/v1/approvals", json=approval, headers=keys("compliance"))
    assert r.status_code == 201 and r.json()["expires"] is None
    listed = client.get("/v1/approvals", headers=keys("auditor")).json()
    assert [a["id"] for a in listed] == ["SCC-1"]
    r = client.post("/v1/transfers/run", json=REQUEST, headers=keys("compliance"))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["allowed"] is True and out["approval_used"] == "SCC-1"
    assert (Path(out["package"]) / "manifest.json").is_file()
    assert entries(app, Activity.EXPORT)
    snapshots = app.state.onshore.home.path / "outbox" / ".lake-snapshots"
    assert not any(snapshots.iterdir())


def test_profiles_and_approvals_are_checked(tmp_path: Path) -> None:
    areas = tmp_path / "areas.geojson"
    areas.write_text(json.dumps(AREAS))
    app = create_app(ServiceSettings(home=tmp_path / "h", areas=str(areas)), environ={})
    keys = Keys({r: app.state.onshore.keys.add(r, name=f"test {r}").key for r in ROLES})
    with TestClient(app) as client:
        _profiles_and_approvals(client, keys)


def _profiles_and_approvals(client, keys) -> None:
    _ingest(client, keys)
    r = client.post(
        "/v1/transfers/assess", json=REQUEST | {"profile": "/etc/passwd"}, headers=keys("operator")
    )
    assert assert_problem(r, 422, "bad-input")["field"] == "profile"
    r = client.post(
        "/v1/transfers/assess",
        json=REQUEST | {"profile": "internal-analytics"},
        headers=keys("operator"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["risk"] is not None
    bad = {"id": "X", "kind": "certification", "categories": ["no.such"], "issued": "2026-01-01"}
    assert (
        assert_problem(
            client.post("/v1/approvals", json=bad, headers=keys("compliance")), 422, "bad-input"
        )["field"]
        == "categories"
    )
    twice = {"id": "Y", "kind": "certification", "issued": "2026-01-01"}
    assert client.post("/v1/approvals", json=twice, headers=keys("compliance")).status_code == 201
    assert_problem(
        client.post("/v1/approvals", json=twice, headers=keys("compliance")), 422, "bad-input"
    )


def test_approvals_list_is_the_clis_and_the_addition_is_entered_once(
    app, client, keys, home_path: Path
) -> None:
    sa = {"id": "SA-1", "kind": "security_assessment", "issued": "2024-02-01"}
    added = client.post("/v1/approvals", json=sa, headers=keys("compliance"))
    assert added.status_code == 201, added.text
    assert added.json()["expires"] == "2027-02-01" and added.json()["renew_from"]
    listed = client.get("/v1/approvals", headers=keys("auditor")).json()
    cli_rows = CliRunner().invoke(
        cli, ["transfer", "approvals", "list", "--json", "--home", str(home_path)]
    )
    assert cli_rows.exit_code == 0, cli_rows.output
    assert listed == json.loads(cli_rows.stdout) == [added.json()]
    assert listed[0]["status"] in ("valid", "renew now", "expired")
    put = [e for _i, e in entries(app, Activity.USE) if e.details.get("approval") == "SA-1"]
    assert len(put) == 1, put


def test_ledger_log_manifest_and_report_name_the_lake_dataset(app, client, keys) -> None:
    _ingest(client, keys)
    assert client.post("/v1/transfers/run", json=REQUEST, headers=keys("compliance")).status_code
    approval = {"id": "SCC-1", "kind": "standard_contract", "issued": "2026-01-05"}
    assert client.post("/v1/approvals", json=approval, headers=keys("compliance")).status_code
    r = client.post("/v1/transfers/run", json=REQUEST, headers=keys("compliance"))
    assert r.status_code == 200, r.text
    out = r.json()
    manifest = json.loads((Path(out["package"]) / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["dataset"] == out["dataset"] == "telemetry"
    (refused,) = [e for _i, e in entries(app, Activity.POLICY_REFUSAL)]
    (export,) = [e for _i, e in entries(app, Activity.EXPORT)]
    assert refused.dataset == export.dataset == "telemetry"
    home = app.state.onshore.home
    logged = Registry(home).transfers()
    assert [t.dataset for t in logged] == ["telemetry", "telemetry"]
    year = int(logged[0].at[:4])
    table = collect(home, load_config(None, home=home.path), year)["tables"]["exports"]
    (row,) = table["rows"]
    assert dict(zip(table["columns"], row, strict=True))["datasets"] == "telemetry"


def test_a_request_without_an_impact_assessment_says_so(app, client, keys) -> None:
    """PIPL Art. 55: every export of personal information needs an impact assessment."""
    _ingest(client, keys)
    bare = {k: v for k, v in REQUEST.items() if k != "impact_assessment"}
    r = client.post("/v1/transfers/assess", json=bare, headers=keys("operator"))
    assert r.status_code == 200, r.text
    assert any("impact assessment" in m for m in r.json()["missing"])
    r = client.post("/v1/transfers/assess", json=REQUEST, headers=keys("operator"))
    assert not any("impact assessment" in m for m in r.json()["missing"])
