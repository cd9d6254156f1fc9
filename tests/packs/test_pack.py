"""The cn-auto pack: complete, consistent, and every mistake in a pack named by file and key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

import onshore
from onshore.errors import PackError
from onshore.packs.loader import BUILTIN_DIR

REQUIRED = [
    "vehicle.identity.vin",
    "person.identity",
    "location.trajectory",
    "driving.behaviour",
    "vehicle.status",
    "vehicle.diagnostics",
    "cabin.audio",
    "cabin.video",
    "cabin.image",
    "biometric",
    "exterior.video",
    "exterior.image",
    "exterior.audio",
    "charging.network.operation",
    "traffic.flow",
    "traffic.logistics",
    "surveying.point_cloud",
    "surveying.road_topology",
    "surveying.high_precision_position",
    "ota.update",
    "ota.remote_control",
]


def test_taxonomy_has_the_categories_the_rules_name(pack: onshore.Pack) -> None:
    missing = [k for k in REQUIRED if k not in pack.categories]
    assert not missing


def test_taxonomy_keys_are_unique_and_parents_exist(pack: onshore.Pack) -> None:
    for key, cat in pack.categories.items():
        if cat.parent is not None:
            assert cat.parent in pack.categories
            assert key.startswith(cat.parent + ".")
        assert cat.ref.article and cat.ref.instrument in pack.instruments


def test_every_rule_has_a_legal_reference(pack: onshore.Pack) -> None:
    for rid in pack.rule_ids():
        info = pack.rule(rid)
        assert info.ref.article and info.ref.title and info.description


@pytest.mark.parametrize(
    ("name", "category"),
    [
        ("Vehicle.CurrentLocation.Latitude", "location.trajectory"),
        ("LATITUDE", "location.trajectory"),
        ("Vehicle.Speed", "driving.behaviour"),
        ("Vehicle.Cabin.Camera.Driver.Video", "cabin.video"),
        ("Vehicle.Cabin.Seat.Row1.DriverSide.IsOccupied", "cabin.occupancy"),
        ("Vehicle.Driver.HeartRate", "biometric.heart_rhythm"),
        ("Vehicle.Powertrain.TractionBattery.StateOfCharge.Current", "vehicle.status"),
        ("Vehicle.OBD.DTCList", "vehicle.diagnostics"),
        ("front_camera_uri", "exterior.video"),
        ("station_utilisation", "charging.network.operation"),
        ("vehicle_count", "traffic.flow"),
        ("phone", "person.contact.phone"),
    ],
)
def test_field_mapping(pack: onshore.Pack, name: str, category: str) -> None:
    assert pack.resolve_field(name).category == category


def test_unknown_field_is_reported_not_dropped(pack: onshore.Pack) -> None:
    label = pack.resolve_field("traj")
    assert label.category is None
    assert label.level == onshore.Level.PERSONAL


def test_the_100k_threshold_is_strict(pack: onshore.Pack) -> None:
    rule = next(r for r in pack.dataset_rules if r.id == "cn-auto/important/pi-over-100k")
    assert rule.when.distinct_subjects is not None
    assert not rule.when.distinct_subjects.holds(100_000)
    assert rule.when.distinct_subjects.holds(100_001)


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "pack"
    shutil.copytree(BUILTIN_DIR / "cn_auto", target)
    return target


def _edit(path: Path, change) -> None:  # type: ignore[no-untyped-def]
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


@pytest.mark.parametrize(
    ("file", "change", "key", "words"),
    [
        (
            "taxonomy.yaml",
            lambda d: d["categories"][1].update(parent="nowhere"),
            "categories[1].parent",
            "unknown parent",
        ),
        (
            "taxonomy.yaml",
            lambda d: d["categories"][2].update(level="secret"),
            "categories.2.level",
            "Input should be",
        ),
        (
            "taxonomy.yaml",
            lambda d: d["categories"].append(dict(d["categories"][0])),
            None,
            "duplicate category",
        ),
        (
            "taxonomy.yaml",
            lambda d: d["categories"][0]["ref"].update(instrument="nope"),
            "categories[0].ref.instrument",
            "unknown instrument",
        ),
        (
            "fields.yaml",
            lambda d: d["fields"][0].update(category="no.such"),
            "fields[0].category",
            "unknown category",
        ),
        (
            "fields.yaml",
            lambda d: d["fields"].append({"pattern": "([", "category": "time"}),
            None,
            "does not compile",
        ),
        (
            "rules.yaml",
            lambda d: d["record_rules"][0]["when"].update(in_area_kind=["airport"]),
            "record_rules[0].when.in_area_kind[0]",
            "unknown area kind",
        ),
        (
            "rules.yaml",
            lambda d: d["dataset_rules"][0]["when"]["distinct_subjects"].update(gte=5),
            None,
            "exactly one of",
        ),
        (
            "rules.yaml",
            lambda d: d["record_rules"].append(dict(d["record_rules"][0])),
            None,
            "duplicate rule id",
        ),
        (
            "areas.yaml",
            lambda d: d["area_kinds"][0].update(buffer_m=-5),
            "area_kinds.0.buffer_m",
            "greater than or equal",
        ),
        (
            "pack.yaml",
            lambda d: d["settings"].update(surprise=True),
            "settings.surprise",
            "Extra inputs",
        ),
    ],
)
def test_pack_errors_name_file_and_key(tmp_path: Path, file, change, key, words) -> None:  # type: ignore[no-untyped-def]
    root = _copy(tmp_path)
    _edit(root / file, change)
    with pytest.raises(PackError) as info:
        onshore.load_pack(root)
    err = info.value
    assert err.file is not None and err.file.endswith(file)
    if key is not None:
        assert err.field is not None and err.field.replace(".", "").replace("[", "").replace(
            "]", ""
        ) == key.replace(".", "").replace("[", "").replace("]", "")
    assert words in str(err)


def test_broken_yaml_and_missing_file(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    (root / "rules.yaml").write_text("record_rules: [\n", encoding="utf-8")
    with pytest.raises(PackError, match="not valid YAML"):
        onshore.load_pack(root)
    (root / "rules.yaml").unlink()
    with pytest.raises(PackError, match="missing"):
        onshore.load_pack(root)


def test_unknown_pack_name() -> None:
    with pytest.raises(PackError, match="shipped: cn-auto"):
        onshore.load_pack("no-such-pack")
