"""Helpers shared by the demo tests."""

from __future__ import annotations

from pathlib import Path

from onshore.demo import DemoSummary


def path(summary: DemoSummary, name: str) -> Path:
    """The path of one of the demo's files."""
    return Path(summary.files[name])
