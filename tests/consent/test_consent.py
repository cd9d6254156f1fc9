"""Consent registry and gate: separate consent, mandatory expiry, immediate withdrawal,
default no collection, biometrics only for driving safety, every change in the ledger."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from store_support import NOW, T0, VINS, Clock, open_home, telemetry, write_telemetry

from onshore.cli import cli
from onshore.cli._common import run_guarded
from onshore.consent import ConsentGate, ConsentRegistry
from onshore.errors import BadInput, PolicyRefusal
from onshore.ledger import Activity
from onshore.pipeline import ingest
from onshore.store import Lake

DAY = timedelta(days=1)


def _grant(reg: ConsentRegistry, vin: str = VINS[0], **kw: object):  # type: ignore[no-untyped-def]
    args = {"category": "location.trajectory", "purpose": "navigation"}
    args.update(kw)  # type: ignore[arg-type]
    expires = args.pop("expires_at", NOW + 30 * DAY)
    return reg.grant(vin, args.pop("category"), args.pop("purpose"), expires_at=expires, **args)  # type: ignore[arg-type]


def test_permanent_or_too_long_consent_is_rejected(tmp_path: Path) -> None:
    with open_home(tmp_path) as home:
        reg = ConsentRegistry(home)
        with pytest.raises(BadInput, match="permanent"):
            _grant(reg, expires_at=None)
        with pytest.raises(BadInput, match="counts as permanent"):
            _grant(reg, expires_at=NOW + 20 * 365 * DAY)
        with pytest.raises(BadInput, match="after the grant"):
            _grant(reg, expires_at=NOW - DAY)
        assert reg.list() == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"purpose": "sightseeing"}, "unknown purpose"),
        ({"category": "no.such"}, "unknown category"),
        ({"category": "vehicle.status", "purpose": "navigation"}, "not a basis"),
        ({"category": "location.trajectory", "purpose": "marketing"}, "not a basis"),
        ({"channel": "carrier-pigeon"}, "unknown channel"),
    ],
)
def test_grant_is_validated_against_the_pack(tmp_path: Path, kwargs: dict, match: str) -> None:  # type: ignore[type-arg]
    with open_home(tmp_path) as home, pytest.raises(BadInput, match=match):
        _grant(ConsentRegistry(home), **kwargs)


def test_biometrics_only_for_driving_safety_with_necessity(tmp_path: Path) -> None:
    with open_home(tmp_path) as home:
        reg = ConsentRegistry(home)
        with pytest.raises(PolicyRefusal):
            _grant(reg, category="biometric.face", purpose="marketing")
        with pytest.raises(BadInput, match="necessity"):
            _grant(reg, category="biometric.face", purpose="driving_safety")
        ok = _grant(
            reg, category="biometric.face", purpose="driving_safety", necessity="driver ID for DMS"
        )
        refusals = [e for _, e in home.ledger.entries(kind=Activity.POLICY_REFUSAL)]
    assert ok.basis == "separate_consent" and ok.separate
    assert refusals[0].reasons == ("cn-auto/consent/biometric-purpose",)


def test_consent_changes_are_ledger_entries_without_the_raw_vin(tmp_path: Path) -> None:
    clock = Clock()
    with open_home(tmp_path, clock) as home:
        reg = ConsentRegistry(home)
        consent = _grant(reg)
        clock.advance(hours=1)
        reg.withdraw(consent.id)
        entries = [e for _, e in home.ledger.entries(kind=Activity.CONSENT_CHANGE)]
        raw = b"".join(row.entry for row in home.ledger.backend.iter_entries())
        ref = home.subject_ref(VINS[0])
    assert [e.decision for e in entries] == ["granted", "withdrawn"]
    assert all(e.subject == ref for e in entries)
    assert entries[0].details["expires_at"] == "2026-12-03T12:00:00.000Z"
    assert VINS[0].encode() not in raw


def test_by_default_nothing_sensitive_is_collected(pack) -> None:  # type: ignore[no-untyped-def]
    gate = ConsentGate(pack, "fleet_analytics", {}, now=NOW)
    batch = telemetry(rows_per_vin=5).combine_chunks().to_batches()[0]
    batch = batch.append_column("face_template", pa.array([b"x"] * batch.num_rows))
    batch = batch.append_column("mystery", pa.array([1] * batch.num_rows))
    out = gate.apply(batch)
    report = gate.report()
    assert out.schema.names == ["vin", "ts", "soc"]
    assert report.dropped_values == {
        "(unknown)": 15,
        "biometric.face": 15,
        "driving.behaviour": 15,
        "location.trajectory": 30,
    }
    assert report.refused == ("biometric.face",)


def test_legal_obligation_keeps_positions_for_national_monitoring(pack) -> None:  # type: ignore[no-untyped-def]
    gate = ConsentGate(pack, "national_monitoring", {}, now=NOW)
    out = gate.apply(telemetry(rows_per_vin=5).to_batches()[0])
    assert out.schema.names == ["vin", "ts", "lat", "lon", "speed_kmh", "soc"]
    rules = {c.name: c.rule_id for c in gate.report().columns}
    assert rules["lat"] == "cn-auto/basis/gbt32960-reporting"


def test_consent_keeps_values_per_vehicle_and_window(tmp_path: Path) -> None:
    source = write_telemetry(tmp_path, rows_per_vin=100)  # 50 minutes from T0
    clock = Clock()
    with open_home(tmp_path / "home", clock) as home:
        reg = ConsentRegistry(home)
        _grant(reg, VINS[0], granted_at=T0 - DAY)
        _grant(reg, VINS[1], granted_at=T0 + timedelta(minutes=25))  # half the rows
        result = ingest(home, source, dataset="nav", purpose="navigation")
        table = pq.read_table(home.store().root / Lake(home).files()[0].path)
    counts = {
        vin: table.filter(pa.compute.equal(table["vin"], vin))["lat"].null_count for vin in VINS
    }
    assert counts == {VINS[0]: 0, VINS[1]: 50, VINS[2]: 100}
    assert result.gate.nulled_values["location.trajectory"] == 2 * (50 + 100)
    assert result.gate.dropped_values == {"driving.behaviour": 300}


def test_withdrawal_takes_effect_at_once(tmp_path: Path) -> None:
    source = write_telemetry(tmp_path, rows_per_vin=100)
    clock = Clock()
    with open_home(tmp_path / "home", clock) as home:
        reg = ConsentRegistry(home)
        consent = _grant(reg, VINS[0], granted_at=T0 - DAY)
        before = ingest(home, source, dataset="a", purpose="navigation")
        clock.advance(seconds=1)
        reg.withdraw(vin=VINS[0], purpose="navigation")
        after = ingest(home, source, dataset="b", purpose="navigation")
        status = reg.list()[0].status(clock())
    assert before.gate.nulled_values["location.trajectory"] == 400
    assert "lat" not in {c.name for c in after.gate.columns if c.action != "drop"}
    assert after.gate.dropped_values["location.trajectory"] == 600
    assert status == "withdrawn" and consent.id


def test_consent_cli_grant_list_withdraw(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    runner = CliRunner()
    base = ["--vin", VINS[0], "--category", "location.trajectory", "--purpose", "navigation"]
    result = runner.invoke(
        cli, ["consent", "grant", *base, "--days", "30", "--json", "--home", home]
    )
    assert result.exit_code == 0, result.output
    granted = json.loads(result.output)
    assert granted["status"] == "active" and granted["separate"] is True
    assert run_guarded(cli, ["consent", "grant", *base, "--expires", "never", "--home", home]) == 2
    bio = ["--vin", VINS[0], "--category", "biometric.face", "--purpose", "marketing"]
    assert run_guarded(cli, ["consent", "grant", *bio, "--days", "3", "--home", home]) == 4
    out = runner.invoke(cli, ["consent", "withdraw", granted["id"], "--json", "--home", home])
    assert json.loads(out.output)[0]["status"] == "withdrawn"
    listed = runner.invoke(cli, ["consent", "list", "--vin", VINS[0], "--json", "--home", home])
    assert [c["status"] for c in json.loads(listed.output)] == ["withdrawn"]
