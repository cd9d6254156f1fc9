"""Client text is checked where it enters: bounded, printable, named in the problem."""

from __future__ import annotations

from service_support import assert_problem

from onshore.ledger import Activity


def test_a_purpose_header_with_control_characters_is_400(client, keys) -> None:
    r = client.get("/v1/consents", headers=keys("auditor", X_Onshore_Purpose="audit\x1b[31m"))
    body = assert_problem(r, 400, "malformed-request")
    assert body["field"] == "X-Onshore-Purpose"
    r = client.get("/v1/consents", headers=keys("auditor", X_Onshore_Purpose="a" * 201))
    assert_problem(r, 400, "malformed-request")


def test_an_approval_id_with_a_bidi_override_is_422_and_not_stored(app, client, keys) -> None:
    approval = {"kind": "standard_contract", "issued": "2026-01-05"}
    for bad in ("SCC\u202e10-6202", "x" * 201, "", "a\nb"):
        r = client.post("/v1/approvals", json={**approval, "id": bad}, headers=keys("compliance"))
        body = assert_problem(r, 422, "bad-input")
        assert body["field"] == "id"
    r = client.get("/v1/approvals", headers=keys("auditor"))
    assert r.json() == []
    # markup is text: kept as sent, and escaped wherever it is shown
    r = client.post(
        "/v1/approvals", json={**approval, "id": "<script>x</script>"}, headers=keys("compliance")
    )
    assert r.status_code == 201, r.text


def test_a_ledger_search_keeps_no_search_text(app, client, keys) -> None:
    client.post(
        "/v1/consents",
        json={
            "vin": "LSVAU2180N2000001",
            "category": "location.trajectory",
            "purpose": "navigation",
            "days": 30,
        },
        headers=keys("compliance"),
    )
    assert_problem(
        client.get("/v1/console/ledger/entries", params={"q": "a\x00"}, headers=keys("auditor")),
        422,
        "bad-input",
    )
    r = client.get(
        "/v1/console/ledger/entries", params={"q": "LSVAU2180N2000001"}, headers=keys("auditor")
    )
    assert r.status_code == 200, r.text
    home = app.state.onshore.home
    views = [e for _i, e in home.ledger.entries(kind=Activity.VIEW)]
    for entry in views:
        assert "LSVAU2180N2000001" not in str(entry.to_dict())
