"""Small demo fleets written once per test session (a few seconds in all)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from onshore.demo import DemoSummary, write_demo

SMALL = {"vehicles": 8, "days": 1}


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoSummary:
    return write_demo(tmp_path_factory.mktemp("a") / "demo", seed=7, **SMALL)


@pytest.fixture(scope="session")
def demo_again(tmp_path_factory: pytest.TempPathFactory) -> DemoSummary:
    return write_demo(tmp_path_factory.mktemp("b") / "demo", seed=7, **SMALL)


@pytest.fixture(scope="session")
def demo_week(tmp_path_factory: pytest.TempPathFactory) -> DemoSummary:
    """A week (Monday to Sunday): weekends and repeated charging."""
    return write_demo(tmp_path_factory.mktemp("w") / "demo", vehicles=4, days=7, seed=3)


@pytest.fixture(scope="session")
def telemetry(demo: DemoSummary) -> pa.Table:
    return pq.read_table(demo.files["telemetry.parquet"])
