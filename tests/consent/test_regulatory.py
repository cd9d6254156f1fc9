"""Issue 18, items 1 and 2: sensitive PI only for purposes that serve the person; exterior media
of bystanders only anonymized. Each refusal has a twin showing the lawful case still passes."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from store_support import NOW, T0, VINS, Clock, open_home, write_telemetry

import onshore
from onshore.consent import ConsentGate, ConsentRegistry
from onshore.errors import BadInput, PackError
from onshore.packs.loader import BUILTIN_DIR
from onshore.pipeline import ingest
from onshore.store import Lake

DAY = timedelta(days=1)

# Provisions 2021 Art. 9(1) [S]: the purpose directly serves the driver or passenger, "including
# driving safety, intelligent driving, navigation"; GB/T 41871-2022 [S]:
# "原则上,不应以改善服务质量,提升用户体验以及研发新产品等为目的处理敏感个人信息".
ART_9 = "cn-auto/consent/sensitive-purpose"
# Provisions 2021 Art. 8 (Q): "无法征得个人同意采集到车外个人信息且向车外提供的,应当进行匿名化处理".
ART_8 = "cn-auto/consent/exterior-anonymized"


@pytest.mark.parametrize(
    ("category", "purpose", "lawful"),
    [
        ("location.trajectory", "fleet_analytics", False),
        ("location.trajectory", "marketing", False),
        ("cabin.video", "fleet_analytics", False),
        ("person.identity.id_number", "marketing", False),
        ("location.trajectory", "navigation", True),  # twin: serves the driver
        ("cabin.video", "driving_safety", True),
    ],
)
def test_sensitive_pi_has_a_consent_basis_only_for_a_purpose_serving_the_person(
    tmp_path: Path, category: str, purpose: str, lawful: bool
) -> None:
    with open_home(tmp_path) as home:
        reg = ConsentRegistry(home)
        if lawful:
            c = reg.grant(VINS[0], category, purpose, expires_at=NOW + 30 * DAY)
            assert c.separate
        else:
            with pytest.raises(BadInput, match="not a basis"):
                reg.grant(VINS[0], category, purpose, expires_at=NOW + 30 * DAY)


def test_fleet_analytics_ingest_stores_no_position_even_with_a_navigation_consent(
    tmp_path: Path,
) -> None:
    source = write_telemetry(tmp_path, rows_per_vin=10)
    with open_home(tmp_path / "home", Clock()) as home:
        reg = ConsentRegistry(home)
        for vin in VINS:
            reg.grant(
                vin,
                "location.trajectory",
                "navigation",
                expires_at=NOW + 30 * DAY,
                granted_at=T0 - DAY,
            )
        refused = ingest(home, source, dataset="fleet", purpose="fleet_analytics")
        lawful = ingest(home, source, dataset="nav", purpose="navigation")
        tables = {f.dataset: pq.read_table(home.store().root / f.path) for f in Lake(home).files()}
    lat = next(c for c in refused.gate.columns if c.name == "lat")
    assert (lat.action, lat.rule_id) == ("drop", ART_9)
    assert "lat" not in tables["fleet"].column_names
    assert refused.gate.dropped_values["location.trajectory"] == 2 * 30
    # twin: navigation serves the driver, and the consent keeps every position
    assert tables["nav"]["lat"].null_count == 0
    assert "location.trajectory" in lawful.gate.kept_categories


def _pack_copy(tmp_path: Path) -> Path:
    target = tmp_path / "pack"
    shutil.copytree(BUILTIN_DIR / "cn_auto", target)
    return target


def test_a_pack_giving_trajectory_a_consent_basis_for_analytics_does_not_load(
    tmp_path: Path,
) -> None:
    root = _pack_copy(tmp_path)
    path = root / "bases.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    basis = next(b for b in data["bases"] if b["id"] == "cn-auto/basis/trajectory-separate-consent")
    basis["purposes"].append("fleet_analytics")
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(PackError, match=ART_9) as err:
        onshore.load_pack(root)
    assert "bases[" in str(err.value) and "purposes" in str(err.value)
    # twin: the shipped pack loads
    assert onshore.load_pack().bases is not None


def test_consent_to_an_export_is_not_a_purpose_of_collection(pack: onshore.Pack) -> None:
    with pytest.raises(BadInput, match="not a purpose of collection"):
        ConsentGate(pack, "cross_border_transfer", {}, now=NOW)
    ConsentGate(pack, "navigation", {}, now=NOW)  # twin


# ---- exterior media -------------------------------------------------------------------------
def _sidecar(folder: Path, name: str, output: str, residual: dict[str, int]) -> str:
    path = folder / name
    path.write_text(
        json.dumps({"status": "done", "output": output, "residual": residual}), encoding="utf-8"
    )
    return str(path)


def test_exterior_media_without_a_sidecar_column_are_dropped_whatever_the_purpose(
    pack: onshore.Pack,
) -> None:
    batch = pa.record_batch({"vin": [VINS[0]], "front_camera_uri": ["clips/a.mp4"], "speed": [1.0]})
    for purpose in ("marketing", "fleet_analytics", "driving_safety"):
        gate = ConsentGate(pack, purpose, {}, now=NOW)
        out = gate.apply(batch)
        decision = next(c for c in gate.report().columns if c.name == "front_camera_uri")
        assert "front_camera_uri" not in out.schema.names
        assert (decision.action, decision.rule_id) == ("drop", ART_8)


def test_exterior_media_kept_only_where_the_sidecar_shows_no_residual(
    pack: onshore.Pack, tmp_path: Path
) -> None:
    clean = _sidecar(tmp_path, "a.json", "out/a.mp4", {"faces": 0, "plates": 0})
    residual = _sidecar(tmp_path, "b.json", "out/b.mp4", {"faces": 1, "plates": 0})
    other = _sidecar(tmp_path, "c.json", "out/other.mp4", {"faces": 0, "plates": 0})
    batch = pa.record_batch(
        {
            "vin": [VINS[0]] * 5,
            "front_camera_uri": [
                "s3://x/a.mp4",
                "s3://x/b.mp4",
                "s3://x/c.mp4",
                "s3://x/d.mp4",
                None,
            ],
            "front_camera_uri_sidecar": [clean, residual, other, str(tmp_path / "none.json"), None],
        }
    )
    gate = ConsentGate(pack, "fleet_analytics", {}, now=NOW)
    out = gate.apply(batch)
    # twin: the anonymized file (sidecar done, same file, no residual) is kept
    assert out.column("front_camera_uri").to_pylist() == ["s3://x/a.mp4", None, None, None, None]
    assert gate.report().nulled_values == {"exterior.video": 3}
    decision = next(c for c in gate.report().columns if c.name == "front_camera_uri")
    assert (decision.action, decision.rule_id) == ("anonymized", ART_8)


def test_ingest_reads_sidecars_beside_the_source(tmp_path: Path) -> None:
    (tmp_path / "a.mp4.anonymize.json").write_text(
        json.dumps({"status": "done", "output": "a.mp4", "residual": {"faces": 0, "plates": 0}}),
        encoding="utf-8",
    )
    source = tmp_path / "media.parquet"
    pq.write_table(
        pa.table(
            {
                "vin": [VINS[0], VINS[1]],
                "ts": pa.array([T0, T0], pa.timestamp("ms", tz="UTC")),
                "dashcam_video_uri": ["a.mp4", "b.mp4"],
                "anonymization_sidecar": ["a.mp4.anonymize.json", "b.mp4.anonymize.json"],
            }
        ),
        source,
    )
    with open_home(tmp_path / "home", Clock()) as home:
        result = ingest(home, source, dataset="media", purpose="driving_safety")
        table = pq.read_table(home.store().root / Lake(home).files()[0].path)
    assert table["dashcam_video_uri"].to_pylist() == ["a.mp4", None]
    assert result.gate.nulled_values == {"exterior.video": 1}
