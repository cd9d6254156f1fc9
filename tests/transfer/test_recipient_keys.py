"""Packages are pseudonymized under a key of the recipient's own, derived from the home's key:
stable for one recipient, unlinkable between recipients and to the home key's pseudonyms."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import onshore
from onshore.classify.vin import vin_check_char
from onshore.config import load_config
from onshore.desensitize import recipient_label, recipient_pseudonym_key
from onshore.geo import AreaIndex, load_areas
from onshore.keystore import HMAC_KEY
from onshore.store import DataHome
from onshore.transfer.execute import Outcome, TransferGate
from onshore.transfer.models import Approval, Recipient, TransferRequest

AREAS = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"id": "mz-1", "kind": "military_zone", "name": "test zone"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[100.0, 30.0], [100.1, 30.0], [100.1, 30.1], [100.0, 30.0]]],
            },
        }
    ],
}


def _vin(i: int) -> str:
    body = f"LSVAB2180N{i:07d}"
    return body[:8] + vin_check_char(body) + body[9:]


@pytest.fixture()
def dataset(tmp_path: Path) -> Path:
    n = 40
    table = pa.table(
        {
            "vin": [_vin(i % 20) for i in range(n)],
            "ts": [f"2026-11-02T08:{i // 60:02d}:{i % 60:02d}Z" for i in range(n)],
            "lat": [31.2 + (i % 20) * 1e-3 for i in range(n)],
            "lon": [121.4 + i * 1e-4 for i in range(n)],
            "speed_kmh": [30.0 + i for i in range(n)],
        }
    )
    pq.write_table(table, tmp_path / "trips.parquet")
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "config.yaml").write_text(
        "processor: {legal_entity: Demo Auto Co., ciio: false, province: Beijing}\n"
    )
    return tmp_path / "trips.parquet"


def _run(home: Path, dataset: Path, name: str, country: str, profile: str) -> Outcome:
    with DataHome(home, environ={}) as h:
        areas = AreaIndex.build(load_areas(AREAS, kinds=h.pack.area_buffers()))
        gate = TransferGate(h, load_config(None, home=home), areas=areas)
        approval = f"SCC-{recipient_label(name, country)}"
        if not any(a.id == approval for a in gate.registry.approvals()):
            gate.registry.add_approval(
                Approval(approval, "standard_contract", dt.date(2026, 1, 5), recipient=name)
            )
        request = TransferRequest(
            dataset=str(dataset),
            recipient=Recipient(name, country),
            purpose="warranty analytics",
            profile=profile,
            # PIPL Arts. 39 and 55: a documented basis and an impact assessment (tests of keys)
            impact_assessment="PIPIA-T",
            outbound_basis="contract",
            outbound_basis_note="warranty service contract with the owner",
        )
        outcome = gate.run(request)
    assert outcome.decision.allowed, outcome.decision.missing
    assert outcome.package is not None
    return outcome


def _pseudonyms(outcome: Outcome) -> list[str]:
    assert outcome.package is not None
    column = pq.read_table(outcome.package / "data.parquet").column("vin_pseudonym")
    return [str(v) for v in column.to_pylist()]


def test_recipients_get_unlinkable_pseudonyms_and_each_keeps_its_own(dataset: Path) -> None:
    home = dataset.parent / "home"
    acme = _run(home, dataset, "Acme GmbH", "DE", "internal-analytics")
    other = _run(home, dataset, "Globex Ltd", "GB", "internal-analytics")
    # the same recipient in other case: the same key, the same pseudonyms
    again = _run(home, dataset, "ACME GMBH", "de", "internal-analytics")
    a, b, c = _pseudonyms(acme), _pseudonyms(other), _pseudonyms(again)
    assert len(set(a)) == 20 and len(set(b)) == 20
    assert not set(a) & set(b)
    assert not {p.split(":", 1)[1] for p in a} & {p.split(":", 1)[1] for p in b}
    assert a == c
    # the key id in KEYID:DIGEST is the recipient's, and the manifest names it (not the key)
    with DataHome(home, environ={}) as h:
        master = h.keystore.get(HMAC_KEY)
        acme_key = recipient_pseudonym_key(h.keystore, "Acme GmbH", "DE")
    ids = {acme.pseudonym_key_id, other.pseudonym_key_id}
    assert len(ids) == 2 and master.key_id not in ids
    assert acme.pseudonym_key_id == acme_key.key_id == again.pseudonym_key_id
    assert {p.split(":")[0] for p in a} == {acme_key.key_id}
    for outcome in (acme, other):
        assert outcome.package is not None
        text = (outcome.package / "manifest.json").read_text()
        assert json.loads(text)["pseudonym_key_id"] == outcome.pseudonym_key_id
        assert json.loads(text)["risk"]["key_ids"] == [outcome.pseudonym_key_id]
        for material in (master.material, acme_key.material):
            assert material.hex() not in text
            assert material.hex() not in (outcome.package / "data.parquet").read_bytes().hex()
    # derived keys are never stored: the keystore holds the home key only
    assert [p.name for p in (home / "keys" / HMAC_KEY).glob("*.key")] == [f"{master.key_id}.key"]
    # the ledger names the key used for the export
    with DataHome(home, environ={}) as h:
        exports = [e for _i, e in h.ledger.entries(kind="export")]
    assert [e.details["pseudonym_key_id"] for e in exports] == [
        acme.pseudonym_key_id,
        other.pseudonym_key_id,
        acme.pseudonym_key_id,
    ]


def test_home_key_pseudonyms_never_appear_in_a_package(dataset: Path) -> None:
    home = dataset.parent / "home"
    package = set(_pseudonyms(_run(home, dataset, "Acme GmbH", "DE", "internal-analytics")))
    with DataHome(home, environ={}) as h:
        # what an in-country operator gets for chosen VINs (POST /v1/desensitize does this)
        areas = load_areas(AREAS, kinds=h.pack.area_buffers())
        chosen, _risk = onshore.desensitize(
            pq.read_table(dataset), "internal-analytics", keys=h.keystore, areas=areas
        )
    home_pseudonyms = {str(v) for v in chosen.column("vin_pseudonym").to_pylist()}
    assert len(home_pseudonyms) == 20
    assert not home_pseudonyms & package
    digests = {p.split(":", 1)[1] for p in package}
    assert not {p.split(":", 1)[1] for p in home_pseudonyms} & digests


def test_per_trip_scope_stays_per_trip_under_the_recipient_key(dataset: Path) -> None:
    home = dataset.parent / "home"
    start = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)
    rows = [  # 3 vehicles, 2 trips of 20 minutes each, an hour apart, 10 s between points
        (_vin(v), start + dt.timedelta(hours=trip, seconds=10 * i), 31.2 + v * 0.01, i)
        for v in range(3)
        for trip in range(2)
        for i in range(120)
    ]
    trips = dataset.parent / "long-trips.parquet"
    pq.write_table(
        pa.table(
            {
                "vin": [r[0] for r in rows],
                "ts": pa.array([r[1] for r in rows], pa.timestamp("ms", tz="UTC")),
                "lat": [r[2] for r in rows],
                "lon": [121.4 + r[3] * 1e-3 for r in rows],
                "speed_kmh": [40.0] * len(rows),
            }
        ),
        trips,
    )
    first = _run(home, trips, "Acme GmbH", "DE", "export-default")
    second = _run(home, trips, "Acme GmbH", "DE", "export-default")
    other = _run(home, trips, "Globex Ltd", "GB", "export-default")
    assert len(set(_pseudonyms(first))) == 6  # one per trip
    assert _pseudonyms(first) == _pseudonyms(second)
    assert not set(_pseudonyms(first)) & set(_pseudonyms(other))
    assert first.pseudonym_key_id == second.pseudonym_key_id != other.pseudonym_key_id
