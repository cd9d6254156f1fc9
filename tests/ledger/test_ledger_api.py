"""The ledger's public surface: ``__all__`` sorted and complete, every docstring example runs."""

from __future__ import annotations

import doctest
import importlib

import pytest

import onshore.ledger

MODULES = [
    "onshore.keystore",
    "onshore.ledger",
    "onshore.ledger.audit",
    "onshore.ledger.backend",
    "onshore.ledger.entry",
    "onshore.ledger.export",
    "onshore.ledger.head",
    "onshore.ledger.log",
    "onshore.ledger.merkle",
    "onshore.ledger.postgres",
    "onshore.ledger.proofs",
    "onshore.ledger.sqlite",
    "onshore.ledger.verify",
]


def test_all_is_sorted_and_complete() -> None:
    names = onshore.ledger.__all__
    assert names == sorted(names)
    assert all(hasattr(onshore.ledger, n) for n in names)
    public = {n for n in vars(onshore.ledger) if n[0].isupper() and not n.startswith("_")}
    assert public <= set(names)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    failures, _ = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert failures == 0
