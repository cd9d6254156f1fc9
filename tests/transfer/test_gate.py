"""The gate end to end on a data home: assess, refuse (exit 4, nothing out), approve, run."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from onshore.classify.vin import vin_check_char
from onshore.config import load_config
from onshore.consent import ConsentRegistry
from onshore.geo import AreaIndex, load_areas
from onshore.store import DataHome
from onshore.transfer.execute import TransferGate, read_request
from onshore.transfer.models import Approval, TransferRequest


def _vin(i: int) -> str:
    body = f"LSVAB2180N{i:07d}"
    return body[:8] + vin_check_char(body) + body[9:]


@pytest.fixture()
def setup(tmp_path: Path) -> tuple[Path, Path]:
    n = 40
    table = pa.table(
        {
            "vin": [_vin(i % 20) for i in range(n)],
            "ts": [f"2026-11-02T08:{i // 60:02d}:{i % 60:02d}Z" for i in range(n)],
            "speed_kmh": [30.0 + i for i in range(n)],
        }
    )
    pq.write_table(table, tmp_path / "trips.parquet")
    request = tmp_path / "request.json"
    request.write_text(
        json.dumps(
            {
                "dataset": "trips.parquet",
                "purpose": "warranty analytics",
                "recipient": {"name": "Acme GmbH", "country": "DE"},
                "impact_assessment": "PIPIA-2026-07",
            }
        )
    )
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "config.yaml").write_text(
        "processor: {legal_entity: Demo Auto Co., ciio: false, province: Beijing}\n"
    )
    # every owner told of the recipient and consenting separately to the export (PIPL Art. 39)
    with DataHome(tmp_path / "home") as h:
        consents = ConsentRegistry(h)
        for i in range(20):
            for category in ("vehicle.identity", "driving", "location"):
                consents.grant(
                    _vin(i),
                    category,
                    "cross_border_transfer",
                    expires_at=h.now() + dt.timedelta(days=365),
                )
    return tmp_path / "home", request


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "onshore", *args], capture_output=True, text=True, cwd=cwd
    )


def test_personal_data_under_100k_is_exempt_and_goes(setup: tuple[Path, Path]) -> None:
    home, request = setup
    with DataHome(home) as h:
        gate = TransferGate(h, load_config(None, home=home))
        outcome = gate.run(read_request(request))
    assert outcome.decision.mechanism == "none_required" and outcome.decision.allowed
    assert outcome.decision.counts["individuals"] == 20
    manifest = json.loads((outcome.package / "manifest.json").read_text())
    data = outcome.package / "data.parquet"
    assert manifest["files"][0]["sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert manifest["files"][0]["rows"] == 40
    # the same people again: counted once this year
    with DataHome(home) as h:
        again = TransferGate(h, load_config(None, home=home)).assess(read_request(request))
    assert again.decision.counts["cumulative_non_sensitive"] == 20


def test_refusal_writes_nothing_and_exits_4(setup: tuple[Path, Path]) -> None:
    home, request = setup
    raw = json.loads(request.read_text())
    raw["dataset"] = str(request.parent / "trips_pos.parquet")
    table = pq.read_table(request.parent / "trips.parquet")
    table = table.append_column("lat", pa.array([39.9] * table.num_rows)).append_column(
        "lon", pa.array([116.4] * table.num_rows)
    )
    pq.write_table(table, raw["dataset"])
    request.write_text(json.dumps(raw))
    proc = _cli("transfer", "assess", str(request), "--home", str(home), cwd=request.parent)
    assert proc.returncode == 0, proc.stderr
    decision = json.loads(proc.stdout)
    assert decision["mechanism"] == "standard_contract_or_certification"
    assert decision["allowed"] is False
    assert decision["counts"]["sensitive_individuals"] == 20
    proc = _cli("transfer", "run", str(request), "--home", str(home), cwd=request.parent)
    assert proc.returncode == 4, proc.stderr
    assert "refused" in proc.stderr
    outbox = home / "outbox"
    assert not outbox.exists() or not [p for p in outbox.iterdir() if p.name != ".staging"]
    proc = _cli("ledger", "list", "--home", str(home), "--json", cwd=request.parent)
    kinds = [json.loads(line)["entry"]["kind"] for line in proc.stdout.splitlines()]
    assert "policy_refusal" in kinds and "export" not in kinds
    # put a standard contract on record, for another recipient first: still refused
    proc = _cli(
        "transfer",
        "approvals",
        "add",
        "--id",
        "SCC-1",
        "--kind",
        "standard_contract",
        "--recipient",
        "Other Ltd",
        "--issued",
        "2026-01-05",
        "--home",
        str(home),
        cwd=request.parent,
    )
    assert proc.returncode == 0, proc.stderr
    proc = _cli("transfer", "run", str(request), "--home", str(home), cwd=request.parent)
    assert proc.returncode == 4 and "Other Ltd" in proc.stdout
    proc = _cli(
        "transfer",
        "approvals",
        "add",
        "--id",
        "SCC-2",
        "--kind",
        "standard_contract",
        "--recipient",
        "Acme GmbH",
        "--issued",
        "2026-01-05",
        "--home",
        str(home),
        cwd=request.parent,
    )
    proc = _cli("transfer", "run", str(request), "--home", str(home), cwd=request.parent)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    done = json.loads(proc.stdout)
    assert done["approval_used"] == "SCC-2" and Path(done["package"]).is_dir()
    proc = _cli("ledger", "verify", "--home", str(home), cwd=request.parent)
    assert proc.returncode == 0, proc.stderr


def test_approvals_list_shows_expiry_and_renewal(setup: tuple[Path, Path]) -> None:
    home, request = setup
    # A security assessment is valid three years: issued so that it expires in 30 days.
    expires = dt.date.today() + dt.timedelta(days=30)
    if (expires.month, expires.day) == (2, 29):
        expires += dt.timedelta(days=1)
    issued = expires.replace(year=expires.year - 3)
    proc = _cli(
        "transfer",
        "approvals",
        "add",
        "--id",
        "SA-1",
        "--kind",
        "security_assessment",
        "--issued",
        issued.isoformat(),
        "--home",
        str(home),
        cwd=request.parent,
    )
    assert proc.returncode == 0, proc.stderr
    proc = _cli("transfer", "approvals", "list", "--json", "--home", str(home), cwd=request.parent)
    (row,) = json.loads(proc.stdout)
    assert row["expires"] == expires.isoformat()
    # 60 working days before expiry is about three months earlier: already passed.
    assert row["renew_from"] < (expires - dt.timedelta(days=80)).isoformat()
    assert row["status"] == "renew now"
    proc = _cli(
        "transfer", "approvals", "expiring", "--json", "--home", str(home), cwd=request.parent
    )
    assert [r["id"] for r in json.loads(proc.stdout)] == ["SA-1"]


def test_owners_counted_by_vin_dedup_against_this_years_exports(setup: tuple[Path, Path]) -> None:
    home, request = setup
    with DataHome(home) as h:
        TransferGate(h, load_config(None, home=home)).run(read_request(request))  # 20 owners
    mixed = pa.table(
        {
            "vin": [_vin(0), _vin(1), _vin(2)],
            "driver_id": [None, None, "d-1"],
            "speed_kmh": [1.0, 2.0, 3.0],
        }
    )
    pq.write_table(mixed, request.parent / "mixed.parquet")
    raw = json.loads(request.read_text()) | {"dataset": "mixed.parquet"}
    request.write_text(json.dumps(raw))
    with DataHome(home) as h:
        counts = TransferGate(h, load_config(None, home=home)).assess(read_request(request))
    # two owners by VIN (already exported this year) and one driver
    assert counts.decision.counts["individuals"] == 3
    assert counts.decision.counts["cumulative_non_sensitive"] == 21


def test_an_export_without_the_owners_consent_or_an_impact_assessment_is_refused(
    setup: tuple[Path, Path],
) -> None:
    """PIPL Art. 39 (告知…境外接收方…并取得个人的单独同意) and Art. 55(4) (impact assessment), not
    waived by the 2024 exemptions; the lawful twin is the test above."""
    home, request = setup
    raw = json.loads(request.read_text())
    table = pq.read_table(request.parent / "trips.parquet")
    extra = pa.table(
        {"vin": [_vin(50), _vin(51)], "ts": ["2026-11-02T09:00:00Z"] * 2, "speed_kmh": [1.0, 2.0]}
    )
    pq.write_table(pa.concat_tables([table, extra]), request.parent / "more.parquet")
    request.write_text(json.dumps(raw | {"dataset": "more.parquet"}))
    with DataHome(home) as h:
        outcome = TransferGate(h, load_config(None, home=home)).run(read_request(request))
    d = outcome.decision
    assert d.mechanism == "none_required" and not d.allowed and outcome.package is None
    assert d.counts["without_outbound_consent"] == 2
    assert any("of 2 of 22 individuals" in m for m in d.missing)
    del raw["impact_assessment"]
    request.write_text(json.dumps(raw))
    with DataHome(home) as h:
        outcome = TransferGate(h, load_config(None, home=home)).assess(read_request(request))
    assert outcome.decision.missing == (
        "a personal information protection impact assessment reference (PIPL Art. 55(4))",
    )


def test_pseudonyms_are_not_counted_as_people(setup: tuple[Path, Path]) -> None:
    """The thresholds count natural persons (X万人): a per-trip pseudonym is not a person."""
    home, request = setup
    start = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)
    rows = [  # 5 owners (consenting, see setup), 2 trips of 20 minutes each, an hour apart
        (_vin(v), start + dt.timedelta(hours=trip, seconds=10 * i), 31.2 + v * 0.01, i)
        for v in range(5)
        for trip in range(2)
        for i in range(120)
    ]
    table = pa.table(
        {
            "vin": [r[0] for r in rows],
            "ts": pa.array([r[1] for r in rows], pa.timestamp("ms", tz="UTC")),
            "lat": [r[2] for r in rows],
            "lon": [121.4 + r[3] * 1e-3 for r in rows],
            "speed_kmh": [40.0] * len(rows),
        }
    )
    pq.write_table(table, request.parent / "pos.parquet")
    raw = json.loads(request.read_text()) | {"dataset": "pos.parquet"}
    zone = {
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
    with DataHome(home) as h:
        areas = AreaIndex.build(load_areas(zone, kinds=h.pack.area_buffers()))
        gate = TransferGate(h, load_config(None, home=home), areas=areas)
        gate.registry.add_approval(
            Approval("SCC-A", "standard_contract", dt.date(2026, 1, 5), recipient="Acme GmbH")
        )
        pseudo = gate.run(
            TransferRequest.from_mapping(
                raw | {"dataset": str(request.parent / "pos.parquet"), "profile": "export-default"}
            )
        )
        assert pseudo.package is not None, pseudo.decision.missing
        written = pq.read_table(pseudo.package / "data.parquet")
        plain = gate.run(
            TransferRequest.from_mapping(raw | {"dataset": str(request.parent / "pos.parquet")})
        )
    subject_cols = [c for c in written.column_names if c.endswith("pseudonym")]
    assert subject_cols and len(set(written.column(subject_cols[0]).to_pylist())) == 10
    assert pseudo.decision.counts["individuals"] == 5
    # the later raw transfer of the same five people: still five people this year
    assert plain.decision.counts["cumulative_individuals"] == 5
    assert plain.decision.counts["cumulative_sensitive"] <= 5


def test_the_person_is_told_which_exports_carried_their_data(
    setup: tuple[Path, Path], tmp_path: Path
) -> None:
    """PIPL Art. 39: the person is told the overseas recipient, its contact, the purpose and
    the categories; a vehicle never exported lists none (twin)."""
    from onshore.store.subject import export_subject

    home, request = setup
    raw = json.loads(request.read_text())
    raw["recipient"]["contact"] = "privacy@acme.example"
    raw |= {"storage_location": "Frankfurt, DE", "storage_period": "2 years"}
    request.write_text(json.dumps(raw))
    with DataHome(home) as h:
        done = TransferGate(h, load_config(None, home=home)).run(read_request(request))
        assert done.package is not None, done.decision.missing
        export_subject(h, _vin(3), tmp_path / "v3")
        export_subject(h, _vin(99), tmp_path / "v99")
    (told,) = json.loads((tmp_path / "v3" / "exports.json").read_text())
    assert told["recipient"] == "Acme GmbH" and told["country"] == "DE"
    assert told["contact"] == "privacy@acme.example" and told["purpose"] == "warranty analytics"
    assert "vehicle.identity.vin" in told["categories"]
    assert told["use_abroad"]["storage_location"] == "Frankfurt, DE"
    assert json.loads((tmp_path / "v99" / "exports.json").read_text()) == []
