"""The attacks of issue 15, replayed against a real ``onshore serve`` on loopback.

An auditor abroad with an approval on record reads a subject with a purpose header that links
the ledger's private signing key and carries script; a compliance key abroad, refused a read,
tries to approve itself. Then the annual report is fetched as HTML, Markdown and PDF: the
markup is text, the PDF holds no file of the server, and the self-approval never happened.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import httpx
import pytest
from service_support import JSONL, api_key, jsonl, message, serve, vin

pytestmark = pytest.mark.slow


@pytest.fixture
def served(tmp_path: Path):  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.yaml").write_text(
        "processor:\n  legal_entity: Demo Auto\n  ciio: false\n  province: Beijing\n"
        "remote_access:\n  impact_assessment: PIA-1\n  outbound_basis: contract\n"
        "  outbound_basis_note: audit contract clause 2\n"
    )
    keys = {
        "ingest": api_key(home, "ingest", "gateway"),
        "compliance": api_key(home, "compliance", "dpo"),
        "auditor_de": api_key(home, "auditor", "Audit GmbH", "--country", "DE"),
        "compliance_de": api_key(home, "compliance", "Acme GmbH", "--country", "DE"),
    }
    with serve(home) as base:
        yield base, home, keys


def test_the_reported_attacks_fail_against_the_real_service(served) -> None:  # type: ignore[no-untyped-def]
    base, home, keys = served
    h = {role: {"X-API-Key": k} for role, k in keys.items()}
    body = jsonl([message(i, s) for i in range(3) for s in range(5)])
    r = httpx.post(f"{base}/v1/ingest/telemetry", content=body, headers={**h["ingest"], **JSONL})
    assert r.status_code == 200, r.text
    signing_key = next((home / "keys").rglob("*.key"), None) or next((home / "keys").rglob("*"))
    attack = (
        f'<link rel="attachment" href="file://{signing_key}">'
        "<img src=x onerror=alert(document.cookie)>"
    )
    # the processor approves the auditor abroad; the approval's id is markup (kept as text)
    approval = {
        "id": "<script>alert(1)</script>",
        "kind": "standard_contract",
        "recipient": "Audit GmbH",
        "issued": "2026-01-05",
    }
    r = httpx.post(f"{base}/v1/approvals", json=approval, headers=h["compliance"])
    assert r.status_code == 201, r.text
    consent = {"vin": vin(1), "category": "location.trajectory", "purpose": "navigation"}
    r = httpx.post(f"{base}/v1/consents", json={**consent, "days": 30}, headers=h["compliance"])
    assert r.status_code == 201, r.text
    # the auditor abroad reads consents: the gate allows it, the purpose goes on the ledger
    r = httpx.get(f"{base}/v1/consents", headers={**h["auditor_de"], "X-Onshore-Purpose": attack})
    assert r.status_code == 200, r.text
    # a compliance key abroad: refused the read, then refused its own approval
    r = httpx.post(f"{base}/v1/subjects/{vin(1)}/export", headers=h["compliance_de"])
    assert r.status_code == 403 and r.json()["type"].endswith("remote-access-refused")
    mine = {**approval, "id": "SELF-1", "recipient": "Acme GmbH"}
    r = httpx.post(f"{base}/v1/approvals", json=mine, headers=h["compliance_de"])
    assert r.status_code == 403 and r.json()["type"].endswith("abroad-refused"), r.text
    r = httpx.post(f"{base}/v1/subjects/{vin(1)}/export", headers=h["compliance_de"])
    assert r.status_code == 403
    approvals = httpx.get(f"{base}/v1/approvals", headers=h["compliance"]).json()
    assert [a["id"] for a in approvals] == ["<script>alert(1)</script>"]

    html = httpx.get(
        f"{base}/v1/reports/2026", params={"format": "html", "lang": "en"}, headers=h["compliance"]
    )
    assert html.status_code == 200, html.text
    assert "<img src=x" not in html.text and "<script>alert" not in html.text
    assert "&lt;img src=x onerror=alert(document.cookie)&gt;" in html.text
    assert html.headers.get("x-content-type-options") == "nosniff"
    md = httpx.get(
        f"{base}/v1/reports/2026", params={"format": "md", "lang": "en"}, headers=h["compliance"]
    )
    visible = md.text.split("<!-- onshore-report-data -->")[0]
    assert "<img" not in visible.replace("\\<img", "")
    pytest.importorskip("weasyprint")
    from pypdf import PdfReader

    pdf = httpx.get(
        f"{base}/v1/reports/2026",
        params={"format": "pdf", "lang": "en"},
        headers=h["compliance"],
        timeout=120,
    )
    assert pdf.status_code == 200, pdf.text[:500]
    reader = PdfReader(io.BytesIO(pdf.content))
    assert list(reader.attachments) == ["onshore-report.json"]
    block = json.loads(reader.attachments["onshore-report.json"][0])
    assert block["format"]
    key_bytes = signing_key.read_bytes()
    assert key_bytes not in pdf.content
