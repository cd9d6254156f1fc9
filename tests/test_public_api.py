"""The public surface: complete, sorted, documented; the CLI reference (docs/cli.md) is current."""

from __future__ import annotations

import doctest
import subprocess
import sys
from pathlib import Path

import pytest

import onshore

REPO = Path(__file__).resolve().parents[1]


def test_all_is_sorted_and_complete() -> None:
    assert onshore.__all__ == sorted(onshore.__all__)
    public = {n for n in vars(onshore) if not n.startswith("_") and n[0].isupper()}
    public |= {"classify", "load_pack", "load_areas"}
    modules = {n for n in public if type(getattr(onshore, n)).__name__ == "module"}
    assert set(onshore.__all__) >= public - modules


@pytest.mark.parametrize(
    "module",
    [
        "onshore",
        "onshore.model",
        "onshore.packs.loader",
        "onshore.classify",
        "onshore.classify.engine",
        "onshore.classify.vin",
        "onshore.report.annual",
    ],
)
def test_doctests(module: str) -> None:
    mod = __import__(module, fromlist=["_"])
    failures, _tests = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert failures == 0


def test_readme_quickstart_is_exactly_two_commands() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = text.split("## Quickstart", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    assert block.strip().splitlines() == ["make demo", "make test"]


def test_readme_cli_reference_is_current() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "cli_reference.py"),
            "--check",
            str(REPO / "docs" / "cli.md"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
