"""The operator vectors through the Spark adapter: the same rows as the Arrow core."""

from __future__ import annotations

from typing import Any

import pytest

import onshore
from desensitize.vectors import Case, expected, load_cases, resources, rows

pytestmark = [
    pytest.mark.spark,
    pytest.mark.filterwarnings("ignore::FutureWarning"),  # PySpark on pandas 3
]
CASES = load_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.title for c in CASES])
def test_operator_vector_on_spark(case: Case, pack: onshore.Pack, spark: Any) -> None:
    from onshore.spark import desensitize_dataframe

    given = resources(case, pack)
    df = spark.createDataFrame(case.table)
    result = desensitize_dataframe(
        df,
        case.profile,
        pack,
        key=given["keys"],
        areas=given["areas"],
        boundaries=given["boundaries"],
    )
    released = result.rows
    got = rows(released.toArrow()) if released is not None else []
    assert got == expected(case)
