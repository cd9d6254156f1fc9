"""Subjects are vehicles or persons: consents of a person (an app account), the gate applying them
through the person column, why each value was nulled, and subject export/delete of a person."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from store_support import NOW, VINS, Clock, open_home

from onshore.cli import cli
from onshore.cli._common import run_guarded
from onshore.consent import ConsentGate, ConsentRegistry
from onshore.consent.gate import (
    WHY_BEFORE,
    WHY_ENDED,
    WHY_NO_BASIS,
    WHY_NO_CONSENT,
    WHY_NO_SUBJECT,
    WHY_OUTSIDE,
    WHY_SENSITIVE,
)
from onshore.errors import BadInput
from onshore.ledger import Activity
from onshore.packs import load_pack

DAY = timedelta(days=1)
PACK = load_pack()


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _windows(rows: list[tuple[str, str, datetime, datetime, bool]]) -> dict[str, pa.Table]:
    return {
        "location.trajectory": pa.table(
            {
                "kind": [r[0] for r in rows],
                "subject": [r[1] for r in rows],
                "start_ms": pa.array([_ms(r[2]) for r in rows], pa.int64()),
                "end_ms": pa.array([_ms(r[3]) for r in rows], pa.int64()),
                "in_force": [r[4] for r in rows],
            }
        )
    }


def _batch(users: list[str | None], times: list[datetime]) -> pa.RecordBatch:
    n = len(users)
    return pa.record_batch(
        {
            "user_id": pa.array(users, pa.string()),
            "ts": pa.array(times, pa.timestamp("ms", tz="UTC")),
            "lat": pa.array([39.9] * n),
            "lon": pa.array([116.3] * n),
        }
    )


def test_the_gate_keeps_a_persons_values_inside_the_window_and_says_why_others_were_nulled() -> (
    None
):
    granted = NOW - 10 * DAY
    windows = _windows(
        [
            ("person", "geolife_000", granted, NOW + 300 * DAY, True),
            ("person", "geolife_002", granted - 50 * DAY, granted - 20 * DAY, False),  # withdrawn
            ("vehicle", "geolife_003", granted, NOW + DAY, True),  # a vehicle, not this person
        ]
    )
    gate = ConsentGate(PACK, "navigation", windows, now=NOW, subject="user_id")
    users = ["geolife_000", "geolife_000", "geolife_001", "geolife_002", None, "geolife_003"]
    times = [granted - 1000 * DAY, granted + DAY, granted + DAY, granted - 30 * DAY, NOW, NOW]
    out = gate.apply(_batch(users, times))
    assert out.column("lat").to_pylist() == [None, 39.9, None, None, None, None]
    # the person column is kept for the consenting person only
    assert out.column("user_id").to_pylist() == [None, "geolife_000", None, None, None, None]
    report = gate.report()
    assert report.nulled_reasons["lat"] == {
        WHY_BEFORE: 1,  # collected before the consent was granted
        WHY_NO_CONSENT: 2,  # geolife_001, and geolife_003 (whose consent is a vehicle's)
        WHY_ENDED: 1,  # geolife_002 withdrew
        WHY_NO_SUBJECT: 1,
    }
    assert report.nulled_values["location.trajectory"] == 2 * 5
    assert any(
        line.startswith("nulled lat (location.trajectory): 2 no consent for this purpose")
        for line in report.why_lines()
    )
    assert "nulled_reasons" in report.to_dict()


def test_vectorized_reasons_equal_a_row_by_row_reference() -> None:
    rng = np.random.default_rng(22)
    people = [f"p{i}" for i in range(6)]
    base = NOW - 100 * DAY
    rows = []
    for person in people[:4]:
        for _ in range(int(rng.integers(1, 3))):
            start = base + int(rng.integers(0, 60)) * DAY
            rows.append(
                (
                    "person",
                    person,
                    start,
                    start + int(rng.integers(1, 40)) * DAY,
                    bool(rng.random() < 0.7),
                )
            )
    users = [people[int(i)] if i < 6 else None for i in rng.integers(0, 7, 400)]
    times = [base + timedelta(hours=int(h)) for h in rng.integers(0, 24 * 110, 400)]
    gate = ConsentGate(PACK, "navigation", _windows(rows), now=NOW, subject="user_id")
    if not any(r[4] for r in rows):
        pytest.skip("no consent in force in this draw")
    out = gate.apply(_batch(users, times))

    def reference(user: str | None, t: datetime) -> str | None:
        if user is None:
            return WHY_NO_SUBJECT
        mine = [r for r in rows if r[1] == user]
        if not mine:
            return WHY_NO_CONSENT
        live = [r for r in mine if r[4]]
        if not live:
            return WHY_ENDED
        if any(r[2] <= t < r[3] for r in live):
            return None
        return WHY_BEFORE if any(t < r[2] for r in live) else WHY_OUTSIDE

    expected: dict[str, int] = {}
    kept = []
    for user, t in zip(users, times, strict=True):
        why = reference(user, t)
        kept.append(why is None)
        if why is not None:
            expected[why] = expected.get(why, 0) + 1
    assert [v is not None for v in out.column("lat").to_pylist()] == kept
    assert gate.report().nulled_reasons.get("lat", {}) == expected


def test_dropped_columns_say_why() -> None:
    gate = ConsentGate(PACK, "fleet_analytics", {}, now=NOW)
    batch = pa.record_batch({"vin": [VINS[0]], "lat": [39.9], "name": ["x"], "soc": [50.0]})
    assert gate.apply(batch).schema.names == ["vin", "soc"]
    reasons = gate.report().dropped_reasons
    assert reasons["lat"] == {WHY_SENSITIVE: 1}  # a trajectory: fleet analytics does not serve
    assert reasons["name"] == {WHY_NO_CONSENT: 1}  # consent could cover it; nobody gave it
    gate = ConsentGate(PACK, "national_monitoring", {}, now=NOW)
    assert gate.apply(pa.record_batch({"vin": [VINS[0]], "plate": ["京A12345"]})).num_columns == 1
    assert gate.report().dropped_reasons == {"plate": {WHY_NO_BASIS: 1}}


def test_a_persons_id_is_checked_as_text_and_a_vin_still_as_a_vin(tmp_path: Path) -> None:
    with open_home(tmp_path) as home:
        reg = ConsentRegistry(home)
        with pytest.raises(BadInput, match="17-character VIN"):
            reg.grant("geolife_000", "location.trajectory", "navigation", expires_at=NOW + DAY)
        with pytest.raises(BadInput, match="not printable"):
            reg.grant(
                "geo\u202elife",
                "location.trajectory",
                "navigation",
                expires_at=NOW + DAY,
                kind="person",
            )
        with pytest.raises(BadInput, match="at most 128"):
            reg.grant(
                "x" * 129, "location.trajectory", "navigation", expires_at=NOW + DAY, kind="person"
            )
        c = reg.grant(
            "geolife_000", "location.trajectory", "navigation", expires_at=NOW + DAY, kind="person"
        )
        assert (c.subject, c.subject_kind, c.vin) == ("geolife_000", "person", None)
        assert [x.id for x in reg.list(subject="geolife_000")] == [c.id]
        assert reg.list(vin="geolife_000") == []  # a VIN filter names vehicles only
        entry = list(home.ledger.entries(kind=Activity.CONSENT_CHANGE))[-1][1]
        assert "geolife_000" not in json.dumps(entry.to_dict())  # pseudonym only


def _geolife(path: Path, today: datetime) -> Path:
    """Rows of two persons: one from 2008 (before any consent), two from the last days."""
    times = ["2008-10-23T02:53:04Z"] + [
        (today - k * DAY).strftime("%Y-%m-%dT%H:%M:%SZ") for k in (5, 4)
    ]
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["user_id", "ts", "lat", "lon"])
        for user in ("geolife_000", "geolife_0001"):
            for ts in times:
                w.writerow([user, ts, 39.98, 116.31])
    return path


def _run(home: Path, *args: str) -> int:
    return run_guarded(cli, [*args, "--home", str(home)])


def test_store_put_keyed_on_a_person_then_export_and_delete_the_person(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    today = datetime.now(UTC)  # the CLI runs on the real clock: every time is relative to it
    data = _geolife(tmp_path / "geolife.csv", today)
    # no basis for an account id under national monitoring: a clear error, not "not in input"
    assert (
        _run(home, "store", "put", str(data), "--dataset", "geolife", "--subject", "user_id") == 2
    )
    err = capsys.readouterr().err
    assert "field 'user_id'" in err and "consent gate drops the --subject column" in err
    # the old way keeps failing for a person, with the reason
    assert (
        _run(
            home,
            "consent",
            "grant",
            "--vin",
            "geolife_000",
            "--category",
            "location.trajectory",
            "--purpose",
            "navigation",
            "--days",
            "30",
        )
        == 2
    )
    assert "17-character VIN" in capsys.readouterr().err
    for user in ("geolife_000", "geolife_0001"):
        assert (
            _run(
                home,
                "consent",
                "grant",
                "--subject",
                user,
                "--category",
                "location.trajectory",
                "--purpose",
                "navigation",
                "--granted",
                (today - 30 * DAY).date().isoformat(),
                "--days",
                "300",
            )
            == 0
        )
    capsys.readouterr()
    assert (
        _run(
            home,
            "store",
            "put",
            str(data),
            "--dataset",
            "geolife",
            "--subject",
            "user_id",
            "--purpose",
            "navigation",
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "nulled lat (location.trajectory): 2 before the consent window" in out
    with open_home(home, Clock(today)) as h:
        collection = list(h.ledger.entries(kind=Activity.COLLECTION))[-1][1].to_dict()
    assert collection["details"]["nulled_reasons"]["lat"] == {WHY_BEFORE: 2}

    assert (
        _run(
            home,
            "subject",
            "export",
            "--subject",
            "geolife_000",
            "--out",
            str(tmp_path / "exp"),
            "--json",
        )
        == 0
    )
    exported = json.loads(capsys.readouterr().out)
    # the 2008 row was collected before the consent: its person id was nulled with its position
    assert exported["rows"] == {"geolife": 2} and exported["consents"] == 1
    assert json.loads((tmp_path / "exp" / "person.json").read_text())["person"] == "geolife_000"

    assert _run(home, "subject", "delete", "--subject", "geolife_000", "--json") == 0
    deleted = json.loads(capsys.readouterr().out)
    assert deleted["rows_removed"] == {"geolife": 2} and deleted["remaining"] == 0
    assert deleted["consents_erased"] == 1
    # the person whose id begins with the same characters is untouched
    assert (
        _run(
            home,
            "subject",
            "export",
            "--subject",
            "geolife_0001",
            "--out",
            str(tmp_path / "exp2"),
            "--json",
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["rows"] == {"geolife": 2}


def test_a_person_keyed_dataset_counts_its_persons() -> None:
    from onshore.transfer.facts import dataset_facts

    batch = pa.record_batch(
        {
            "user_id": ["a", "a", "b", "c"],
            "vin": [VINS[0]] * 4,  # one shared car, three people
            "lat": [39.9] * 4,
            "lon": [116.3] * 4,
        }
    )
    facts = dataset_facts([batch], PACK)
    assert facts.subjects.num_rows == 3


def test_the_api_says_why_values_were_nulled_and_takes_a_persons_requests(tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from onshore.service import ServiceSettings, create_app

    home = tmp_path / "home"
    home.mkdir()
    app = create_app(ServiceSettings(home=home), environ={})
    keys = app.state.onshore.keys
    ingest = {"Authorization": f"Bearer {keys.add('ingest', name='i').key}"}
    compliance = {"Authorization": f"Bearer {keys.add('compliance', name='c').key}"}
    today = datetime.now(UTC)  # the service runs on the real clock
    granted = today - 10 * DAY

    def at(moment: datetime) -> str:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")

    with TestClient(app) as client:
        r = client.post(
            "/v1/consents",
            json={
                "vin": VINS[0],
                "category": "location.trajectory",
                "purpose": "navigation",
                "granted_at": at(granted),
                "days": 300,
            },
            headers=compliance,
        )
        assert r.status_code == 201, r.text
        rows = [
            {"vin": VINS[0], "ts": at(t), "lat": 39.9, "lon": 116.3}
            for t in (granted - 20 * DAY, granted + DAY, granted + 2 * DAY)
        ] + [{"vin": VINS[1], "ts": at(granted + DAY), "lat": 39.9, "lon": 116.3}]
        body = "".join(json.dumps(m) + "\n" for m in rows)
        r = client.post(
            "/v1/ingest/trips",
            params={"purpose": "navigation"},
            content=body,
            headers={**ingest, "Content-Type": "application/x-ndjson"},
        )
        assert r.status_code == 200, r.text
        gate = r.json()["consent_gate"]
        assert gate["nulled_reasons"]["lat"] == {WHY_BEFORE: 1, WHY_NO_CONSENT: 1}
        assert gate["nulled_values"] == {"location.trajectory": 4}
        # a person's export and deletion over HTTP: ?kind=person, the id checked as text
        r = client.post("/v1/subjects/geolife_000/export", headers=compliance)
        assert r.status_code in (400, 422), r.text  # a VIN by default
        r = client.post(
            "/v1/subjects/geolife_000/export", params={"kind": "person"}, headers=compliance
        )
        assert r.status_code == 200, r.text
        assert "geolife_000" not in r.headers["content-disposition"]
        r = client.delete("/v1/subjects/geolife_000", params={"kind": "person"}, headers=compliance)
        assert r.status_code == 200 and r.json()["remaining"] == 0, r.text


def test_a_persons_rows_in_a_dataset_keyed_on_the_vin_are_found_and_erased(
    tmp_path: Path,
) -> None:
    import pyarrow.parquet as pq

    from onshore.pipeline import ingest
    from onshore.store.subject import delete_subject, export_subject

    ts = pa.array([NOW - k * DAY for k in range(6)], pa.timestamp("ms", tz="UTC"))
    table = pa.table(
        {
            "vin": [VINS[0]] * 3 + [VINS[1]] * 3,
            "ts": ts,
            "driver_id": ["d-7", "d-8", "d-7", "d-70", None, "d-7"],  # one driver, two cars
            "odometer": [float(k) for k in range(6)],
        }
    )
    source = tmp_path / "service.parquet"
    pq.write_table(table, source)
    with open_home(tmp_path / "home") as home:
        result = ingest(home, source, dataset="service", purpose="maintenance")
        assert result.rows_stored == 6
        exported = export_subject(home, "d-7", tmp_path / "exp", kind="person")
        assert exported.rows == {"service": 3}
        done = delete_subject(home, "d-7", kind="person")
        assert done.rows_removed == {"service": 3} and done.remaining == 0
        from onshore.store import Lake

        lake = Lake(home)
        left = pa.concat_tables(
            lake.read_table(store, f, columns=["vin", "driver_id"]) for store, f in lake.all_files()
        )
        assert sorted(left.column("driver_id").to_pylist(), key=str) == [None, "d-70", "d-8"]
        assert left.num_rows == 3  # the vehicles' other rows stay
