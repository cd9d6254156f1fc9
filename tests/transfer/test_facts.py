"""The gate classifies for real: important rules, categories and individuals from the data."""

from __future__ import annotations

import pyarrow as pa

import onshore
from onshore.transfer.facts import dataset_facts

VIN_A = "1M8GDM9AXKP042788"
VIN_B = "LFV2A21K6A3000001"


def test_individuals_are_counted_once_and_sensitive_if_any(pack: onshore.Pack) -> None:
    table = pa.table(
        {
            "vin": [VIN_A, VIN_A, VIN_B, VIN_B],
            "lat": [39.9, None, None, None],
            "lon": [116.4, None, None, None],
            "speed": [1.0, 2.0, 3.0, 4.0],
        }
    )
    facts = dataset_facts(table.to_batches(max_chunksize=1), pack)
    got = dict(
        zip(*(facts.subjects.column(c).to_pylist() for c in ("subject", "sensitive")), strict=True)
    )
    assert got == {VIN_A: True, VIN_B: False}
    assert facts.has_personal
    assert "location.trajectory" in facts.categories
    assert facts.important_rules == ()


def test_declared_categories_are_not_trusted(pack: onshore.Pack) -> None:
    # a column named like operation data is operation data, whatever the request says
    table = pa.table({"station_id": ["S1"], "station_utilisation": [0.5]})
    facts = dataset_facts(table.to_batches(), pack)
    assert "cn-auto/important/charging-network-operation" in facts.important_rules
    assert not facts.has_personal
    assert facts.subjects.num_rows == 0


def test_people_are_counted_by_person_identifiers_first(pack: onshore.Pack) -> None:
    # two drivers share one car: two individuals, not one vehicle
    table = pa.table({"vin": [VIN_A, VIN_A], "driver_id": ["d-1", "d-2"], "speed": [1.0, 2.0]})
    facts = dataset_facts(table.to_batches(), pack)
    assert sorted(facts.subjects.column("subject").to_pylist()) == ["d-1", "d-2"]
