"""The Python API reference (docs/api.md) is generated from the docstrings and current."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "api_reference.py"


def _check(page: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--check", str(page)], capture_output=True, text=True
    )


def test_docs_api_md_is_current() -> None:
    proc = _check(REPO / "docs" / "api.md")
    assert proc.returncode == 0, proc.stderr


def test_every_public_name_has_a_section() -> None:
    text = (REPO / "docs" / "api.md").read_text(encoding="utf-8")
    for name in ("onshore", "onshore.app", "onshore.app.subject", "onshore.app.report"):
        package = importlib.import_module(name)
        for name in package.__all__:
            assert f"### `{package.__name__}.{name}" in text, f"{package.__name__}.{name}"


def test_a_stale_page_fails_the_check(tmp_path: Path) -> None:
    page = tmp_path / "api.md"
    current = (REPO / "docs" / "api.md").read_text(encoding="utf-8")
    page.write_text(current.replace("### `onshore.load_pack", "### `onshore.load_pak"), "utf-8")
    proc = _check(page)
    assert proc.returncode == 1 and "stale" in proc.stderr
