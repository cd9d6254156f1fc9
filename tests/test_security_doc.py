"""docs/security.md names the test that checks each trust boundary: those tests exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "security.md"


def test_every_test_the_security_model_names_exists() -> None:
    text = DOC.read_text(encoding="utf-8")
    named = re.findall(r"`(tests/[\w/]+\.py)((?:::\w+)?)`", text)
    also = re.findall(r"`(::\w+)`", text)  # a test of the file named just before
    assert len(named) >= 12
    last = None
    for path, test in named:
        source = (ROOT / path).read_text(encoding="utf-8")
        last = source
        if test:
            assert f"def {test[2:]}(" in source, f"{path}{test} is not there"
    assert last is not None
    for test in also:
        files = [(ROOT / p).read_text(encoding="utf-8") for p, _t in named]
        assert any(f"def {test[2:]}(" in f for f in files), f"{test} is not there"
    for script in re.findall(r"`(bench/\w+\.py)`", text):
        assert (ROOT / script).is_file(), script
