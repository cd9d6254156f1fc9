"""Bulk consent import: every row checked, bad rows named by line and field, good rows written in
one transaction with one ledger entry, a second import of the same file adding nothing."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path

import pytest
from store_support import NOW, VINS, open_home

from onshore.cli import cli
from onshore.cli._common import run_guarded
from onshore.consent import ConsentRegistry
from onshore.consent.bulk import import_consents
from onshore.errors import BadInput
from onshore.ledger import Activity

DAY = timedelta(days=1)
CSV = f"""subject,kind,categories,purposes,granted_at,expires_at,days,withdrawn_at,channel
{VINS[0]},vehicle,location.trajectory,navigation;driving_safety,2026-10-01,2027-10-01,,,app
geolife_000,person,location.trajectory|driving,navigation,2026-10-01T08:00:00Z,,365,,display_popup
geolife_001,,location.trajectory,navigation,2026-01-01,,30,2026-01-10,app
geolife_002,,location.trajectory,navigation,2026-10-01,,,,app
{VINS[1]},vehicle,location.trajectory,marketing,2026-10-01,,30,,app
not-a-vin,vehicle,location.trajectory,navigation,2026-10-01,,30,,app
geolife_003,,no.such,navigation,2026-10-01,,30,,app
geolife_004,,location.trajectory,navigation,yesterday,,30,,app
geolife_005,,location.trajectory,navigation,2026-10-01,,30,,carrier-pigeon
geolife_006,,biometric.face,navigation,2026-10-01,,30,,app
"""


def _entries(home):  # type: ignore[no-untyped-def]
    return [e for _, e in home.ledger.entries(kind=Activity.CONSENT_CHANGE)]


def test_good_rows_go_in_and_bad_rows_are_named_by_line_and_field(tmp_path: Path) -> None:
    data = CSV.encode()
    with open_home(tmp_path) as home:
        before = len(_entries(home))
        result = import_consents(home, data, name="consents.csv")
        assert result.rows == 10
        # row 2: 2 purposes; row 3: 2 categories; row 4: one (already withdrawn, kept as history)
        assert result.imported == 5 and result.skipped == 0
        assert {(p.line, p.field) for p in result.rejected} == {
            (5, "expires_at"),  # no expiry: a permanent consent is refused
            (6, "categories"),  # consent is no basis of a trajectory for marketing
            (7, "subject"),  # not a VIN
            (8, "categories"),  # not a category of the pack
            (9, "granted_at"),
            (10, "channel"),
            (11, "categories"),  # biometrics for navigation: refused by policy
        }
        assert result.subjects == {"vehicle": 1, "person": 2}
        reg = ConsentRegistry(home)
        withdrawn = reg.list(subject="geolife_001")
        assert [c.status(NOW) for c in withdrawn] == ["withdrawn"]
        assert len(reg.list(vin=VINS[0])) == 2
        entries = _entries(home)[before:]
        assert len(entries) == 1  # one entry for the whole file
        entry = entries[0].to_dict()
        assert entry["decision"] == "imported"
        assert entry["counts"]["consents"] == 5 and entry["counts"]["rows_rejected"] == 7
        assert entry["counts"]["rows_refused"] == 1
        assert entry["details"]["digest"] == "sha256:" + hashlib.sha256(data).hexdigest()
        assert {r["line"] for r in entry["details"]["rejected"]} == {5, 6, 7, 8, 9, 10, 11}
        assert "geolife_000" not in json.dumps(entry) and VINS[0] not in json.dumps(entry)
        again = import_consents(home, data, name="consents.csv")
        assert again.imported == 0 and again.skipped == 5
        assert len(reg.list()) == 5


def test_json_lines_with_lists_and_a_bad_line(tmp_path: Path) -> None:
    lines = [
        {
            "vin": VINS[2],
            "categories": ["location.trajectory"],
            "purpose": "navigation",
            "granted_at": "2026-10-01",
            "days": 90,
        },
        "not json",
        {
            "subject": "u1",
            "category": "location.trajectory",
            "purpose": "navigation",
            "days": 90,
            "colour": "red",
        },
        {
            "vin": VINS[2],
            "kind": "person",
            "category": "driving",
            "purpose": "navigation",
            "days": 9,
        },
    ]
    body = "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines).encode()
    with open_home(tmp_path) as home:
        result = import_consents(home, body, name="c.jsonl")
    assert result.imported == 1
    assert [(p.line, p.field) for p in result.rejected] == [(2, "-"), (3, "colour"), (4, "kind")]


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b"vin,colour\nX,red\n", "unknown column 'colour'"),
        (b"category,purpose\nlocation.trajectory,navigation\n", "no subject column"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_whole(
    tmp_path: Path, body: bytes, match: str
) -> None:
    with open_home(tmp_path) as home, pytest.raises(BadInput, match=match):
        import_consents(home, body, name="c.csv")
    with open_home(tmp_path) as home:
        assert ConsentRegistry(home).list() == []


def test_cli_import_exits_2_when_a_row_was_rejected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    good = tmp_path / "good.csv"
    good.write_text(
        "vin,category,purpose,days\n"
        + "".join(f"{v},location.trajectory,navigation,30\n" for v in VINS)
    )
    assert run_guarded(cli, ["consent", "import", str(good), "--home", str(home)]) == 0
    assert "imported 3 consents from 3 rows" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text("vin,category,purpose,days\nXX,location.trajectory,navigation,30\n")
    args = ["consent", "import", str(bad), "--home", str(home), "--json"]
    assert run_guarded(cli, args) == 2
    captured = capsys.readouterr()
    assert "1 row of" in captured.err and "rejected" in captured.err
    out = json.loads(captured.out)
    assert out["rejected"] == [
        {"line": 2, "field": "vin", "message": "'XX' is not a 17-character VIN"}
    ]


def test_the_api_imports_and_lists_persons(tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from onshore.service import ServiceSettings, create_app

    home = tmp_path / "home"
    home.mkdir()
    app = create_app(ServiceSettings(home=home), environ={})
    keys = app.state.onshore.keys
    key = keys.add("compliance", name="test compliance").key
    auth = {"Authorization": f"Bearer {key}"}
    with TestClient(app) as client:
        body = "subject,category,purpose,days\ngeolife_000,location.trajectory,navigation,30\n"
        r = client.post(
            "/v1/consents/import",
            content=body + "bad id\u0007,location.trajectory,navigation,30\n",
            headers={**auth, "Content-Type": "text/csv"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["imported"] == 1 and r.json()["rejected"][0]["line"] == 3
        r = client.post(
            "/v1/consents/import", content=body, headers={**auth, "Content-Type": "text/plain"}
        )
        assert r.status_code == 415, r.text
        r = client.get("/v1/consents", params={"subject": "geolife_000"}, headers=auth)
        assert r.status_code == 200, r.text
        [consent] = r.json()["consents"]
        assert consent["subject_kind"] == "person" and consent["vin"] is None
        r = client.post(
            "/v1/consents",
            json={
                "subject": "geolife_001",
                "category": "location.trajectory",
                "purpose": "navigation",
                "days": 30,
            },
            headers=auth,
        )
        assert r.status_code == 201, r.text
        r = client.post(
            "/v1/consents",
            json={
                "vin": "geolife_001",
                "category": "location.trajectory",
                "purpose": "navigation",
                "days": 30,
            },
            headers=auth,
        )
        assert r.status_code in (400, 422), r.text
        r = client.post("/v1/consents/withdraw", json={"subject": "geolife_001"}, headers=auth)
        assert r.status_code == 200 and len(r.json()) == 1, r.text


@pytest.mark.integration
def test_import_and_a_persons_deletion_on_postgres(tmp_path: Path) -> None:
    import os
    import uuid

    psycopg = pytest.importorskip("psycopg")
    base = os.environ.get("ONSHORE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
    try:
        psycopg.connect(base, connect_timeout=5).close()
    except psycopg.Error as exc:
        if os.environ.get("ONSHORE_CI"):
            raise
        pytest.skip(f"PostgreSQL not reachable at {base}: {exc}")
    schema = f"onshore_consent_import_{uuid.uuid4().hex[:12]}"
    url = f"{base}{'&' if '?' in base else '?'}schema={schema}"
    ids = [f"geolife_{i:03d}" for i in range(12)] + ["geolife_0010"]
    body = "subject,category,purpose,days\n" + "".join(
        f"{i},location.trajectory,navigation,30\n" for i in ids
    )
    try:
        with open_home(tmp_path, db=url) as home:
            assert home.meta.dialect == "postgresql"
            result = import_consents(home, body.encode(), name="c.csv")
            assert result.imported == 13 and not result.rejected
            from onshore.store.subject import delete_subject

            done = delete_subject(home, "geolife_001", kind="person")
            # "geolife_0010" holds "geolife_001", not as a whole token: the tables' rescan on
            # PostgreSQL does not count it as the deleted person still found
            assert done.consents_erased == 1 and done.remaining == 0
            assert len(ConsentRegistry(home).list()) == 12
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
