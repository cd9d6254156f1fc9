"""Fixtures of the ledger tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ledger_support import memory_ledger

from onshore.ledger import Ledger


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    with memory_ledger() as value:
        yield value
