"""Shared fixtures: the shipped pack, the real-data folder (skipped cleanly when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

import onshore

REPO = Path(__file__).resolve().parents[1]
SHARED = (REPO / ".." / "shared").resolve()
REAL = SHARED / "data" / "real"


@pytest.fixture(scope="session")
def pack() -> onshore.Pack:
    return onshore.load_pack("cn-auto")


@pytest.fixture(scope="session")
def real_data() -> Path:
    if not REAL.is_dir():
        pytest.skip(f"real data not present at {REAL}")
    return REAL
