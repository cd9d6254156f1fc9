"""One local SparkSession for the whole test session; skipped cleanly without PySpark or Java,
except under ``ONSHORE_CI=1``, where a missing Spark is a failure."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest


def _unavailable(reason: str) -> None:
    if os.environ.get("ONSHORE_CI"):
        pytest.fail(f"Spark tests cannot run under ONSHORE_CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        _unavailable("PySpark is not installed (pip install 'onshore[spark]')")
    from onshore.spark import java_available, spark_session

    if not java_available():
        _unavailable("no Java runtime (JAVA_HOME or java on PATH)")
    session = spark_session(
        "local[2]",
        app_name="onshore-tests",
        conf={
            "spark.sql.shuffle.partitions": "2",
            "spark.default.parallelism": "2",
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
        },
    )
    yield session
    session.stop()
