"""Every rule of cn-auto against its test vectors, through the Arrow core."""

from __future__ import annotations

import pytest

import onshore
from onshore.geo import load_areas

from .vectors import Case, load_cases

CASES = load_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.title for c in CASES])
def test_vector(case: Case, pack: onshore.Pack) -> None:
    areas = load_areas(case.areas, kinds=pack.area_buffers()) if case.areas else None
    result = onshore.classify(case.table, pack, areas=areas, subject=case.subject)
    assert not result.bad, result.bad
    levels = result.labels.column("onshore_level").to_pylist()
    reasons = result.labels.column("onshore_reasons").to_pylist()
    area = result.labels.column("onshore_area").to_pylist()
    for i, expected in enumerate(case.out):
        assert levels[i] == expected["level"], (i, reasons[i])
        for rid in expected.get("reasons", []):
            assert rid in reasons[i], (i, reasons[i])
        if expected.get("reasons") == []:
            assert reasons[i] == []
        for rid in expected.get("absent", []):
            assert rid not in reasons[i], (i, reasons[i])
        if "area" in expected:
            assert area[i] == expected["area"]
    if case.dataset:
        a = result.assessment
        fired = [f.rule_id for f in a.dataset_findings]
        assert a.level.label == case.dataset["level"]
        for rid in case.dataset.get("rules", []):
            assert rid in fired
        for rid in case.dataset.get("absent", []):
            assert rid not in fired
        if "distinct_subjects" in case.dataset:
            assert a.distinct_subjects == case.dataset["distinct_subjects"]


def test_every_rule_has_a_vector(pack: onshore.Pack) -> None:
    covered = {c.rule for c in CASES}
    missing = [rid for rid in pack.rule_ids() if rid not in covered]
    assert not missing, f"rules without a test vector: {missing}"


def test_vector_rules_exist(pack: onshore.Pack) -> None:
    for case in CASES:
        if case.rule.endswith("/unknown-field"):
            continue
        pack.rule(case.rule)
