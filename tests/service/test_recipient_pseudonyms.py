"""Over HTTP: what POST /v1/desensitize gives an operator for chosen VINs (home-key pseudonyms)
never matches a transfer package's pseudonyms, and two recipients' packages share none."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
from service_support import JSONL, jsonl, message

REQUEST = {
    "dataset": "telemetry",
    "purpose": "warranty analytics",
    "profile": "internal-analytics",
    "impact_assessment": "PIA-2026-01",
    "outbound_basis": "contract",
    "outbound_basis_note": "warranty contract clause 12",
}


def _package(client, keys, name: str, country: str) -> set[str]:  # type: ignore[no-untyped-def]
    approval = {"id": f"SCC-{country}", "kind": "standard_contract", "recipient": name}
    r = client.post(
        "/v1/approvals", json=approval | {"issued": "2026-01-05"}, headers=keys("compliance")
    )
    assert r.status_code == 201, r.text
    body = REQUEST | {"recipient": {"name": name, "country": country}}
    r = client.post("/v1/transfers/run", json=body, headers=keys("compliance"))
    assert r.status_code == 200, r.text
    out = r.json()
    table = pq.read_table(Path(out["package"]) / "data.parquet")
    values = {str(v) for v in table.column("vin_pseudonym").to_pylist()}
    assert {v.split(":")[0] for v in values} == {out["pseudonym_key_id"]}
    return values


def test_desensitize_pseudonyms_never_equal_a_package_s(client, keys) -> None:  # type: ignore[no-untyped-def]
    rows = jsonl([message(i, s) for i in range(4) for s in range(5)])
    r = client.post("/v1/ingest/telemetry", content=rows, headers=keys("ingest", **JSONL))
    assert r.status_code == 200, r.text
    acme = _package(client, keys, "Acme GmbH", "DE")
    globex = _package(client, keys, "Globex Ltd", "GB")
    assert len(acme) == len(globex) == 4 and not acme & globex
    # an operator in the country asks for the pseudonyms of the same (chosen) VINs
    r = client.post(
        "/v1/desensitize?profile=internal-analytics",
        content=rows,
        headers=keys("operator", **JSONL),
    )
    assert r.status_code == 200, r.text
    chosen = {str(rec["vin_pseudonym"]) for rec in r.json()["records"]}
    assert len(chosen) == 4
    assert not chosen & (acme | globex)
    digests = {v.split(":", 1)[1] for v in acme | globex}
    assert not {v.split(":", 1)[1] for v in chosen} & digests
