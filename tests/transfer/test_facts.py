"""The gate classifies for real: important rules, categories and individuals from the data."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

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


def test_a_row_without_a_person_identifier_counts_the_owner(pack: onshore.Pack) -> None:
    table = pa.table(
        {
            "vin": [VIN_A, VIN_A, VIN_B],
            "driver_id": ["d-1", None, None],
            "lat": [None, 39.9, None],
            "lon": [None, 116.4, None],
        }
    )
    facts = dataset_facts(table.to_batches(), pack)
    got = dict(
        zip(*(facts.subjects.column(c).to_pylist() for c in ("subject", "sensitive")), strict=True)
    )
    assert got == {"d-1": False, VIN_A: True, VIN_B: False}
    assert facts.assessment.distinct_subjects == 3  # the dataset rules count the same


ROWS = st.lists(
    st.tuples(
        st.sampled_from([VIN_A, VIN_B]),
        st.one_of(st.none(), st.sampled_from(["d-1", "d-2"])),
        st.one_of(st.none(), st.sampled_from(["13800138000", "13900139000"])),
        st.booleans(),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=40, deadline=None)
@given(rows=ROWS, chunk=st.integers(1, 4))
def test_individuals_equal_a_row_by_row_reference(
    pack: onshore.Pack, rows: list[tuple[str, str | None, str | None, bool]], chunk: int
) -> None:
    table = pa.table(
        {
            "vin": [r[0] for r in rows],
            "driver_id": [r[1] for r in rows],
            "phone": [r[2] for r in rows],
            "lat": [39.9 if r[3] else None for r in rows],
            "lon": [116.4 if r[3] else None for r in rows],
        }
    )
    facts = dataset_facts(table.to_batches(max_chunksize=chunk), pack)
    want: dict[str, bool] = {}
    for vin, driver, phone, located in rows:  # person identifier where present, else the VIN
        who = driver if driver is not None else phone if phone is not None else vin
        want[who] = want.get(who, False) or located
    got = dict(
        zip(*(facts.subjects.column(c).to_pylist() for c in ("subject", "sensitive")), strict=True)
    )
    assert got == want
