"""The core's classification vectors through the Spark adapter: identical to the Arrow core."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

import onshore
from classify.vectors import Case, load_cases
from onshore.geo import load_areas

pytestmark = [
    pytest.mark.spark,
    pytest.mark.filterwarnings("ignore::FutureWarning"),  # PySpark on pandas 3
]
CASES = load_cases()


def _labels(table: pa.Table) -> list[tuple[Any, ...]]:
    names = ("onshore_level", "onshore_reasons", "onshore_area")
    columns = [table.column(n).to_pylist() for n in names]
    return list(zip(*columns, strict=True))


@pytest.mark.parametrize("case", CASES, ids=[c.title for c in CASES])
def test_vector_on_spark(case: Case, pack: onshore.Pack, spark: Any) -> None:
    from onshore.spark import classify_dataframe

    areas = load_areas(case.areas, kinds=pack.area_buffers()) if case.areas else None
    core = onshore.classify(case.table, pack, areas=areas, subject=case.subject)
    df = spark.createDataFrame(case.table)
    if case.dataset:  # several partitions: distinct subjects must still be exact
        assert df.rdd.getNumPartitions() >= 2 or case.table.num_rows < 2
    result = classify_dataframe(df, pack, areas, subject=case.subject).persist()
    try:
        if case.out:
            rows = result.labelled.select("onshore_level", "onshore_reasons", "onshore_area")
            got = [tuple(r) for r in rows.collect()]
            assert got == _labels(core.labels)
            for (level, _reasons, area), expected in zip(got, case.out, strict=False):
                assert level == expected["level"]
                if "area" in expected:
                    assert area == expected["area"]
        assert result.quarantine.count() == len(core.bad) == 0
        assessment = result.assessment()
    finally:
        result.unpersist()
    assert assessment.to_dict() == core.assessment.to_dict()
    if case.dataset:
        assert assessment.level.label == case.dataset["level"]
        fired = {f.rule_id for f in assessment.dataset_findings}
        assert set(case.dataset.get("rules", [])) <= fired
        assert not set(case.dataset.get("absent", [])) & fired
        if "distinct_subjects" in case.dataset:
            assert assessment.distinct_subjects == case.dataset["distinct_subjects"]
