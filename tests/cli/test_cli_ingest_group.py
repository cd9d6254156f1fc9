"""``onshore ingest mqtt --group``: a name that cannot name a shared subscription is bad usage
(exit 2, one line naming the field); a second worker with a client id that a live worker of
the data home holds is refused before it connects."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from onshore.ingest import KeyIndex
from onshore.store import DataHome


@pytest.mark.parametrize("group", ["a/b", "fleet+", "#", ""])
def test_a_bad_group_name_is_bad_usage(tmp_path: Path, group: str) -> None:
    done = _onshore("--group", group, "--home", str(tmp_path / "h"))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "field 'group'" in lines[0], done.stderr


def test_a_client_id_in_use_is_refused_before_connecting(tmp_path: Path) -> None:
    home = tmp_path / "h"
    with DataHome(home, environ={}) as h:
        KeyIndex(h, "x").meta.execute(
            "INSERT INTO ingest_workers (worker, host, pid, seen_at) VALUES (?, ?, ?, ?)",
            ("mqtt://127.0.0.1:1/w1", "another-host", 77, time.time()),
        )
    # Port 1: a worker that tried to connect would retry forever; the refusal comes first.
    done = _onshore("--group", "g", "--client-id", "w1", "--home", str(home))
    assert done.returncode == 2, done.stderr
    assert "already runs as pid 77 on another-host" in done.stderr


def _onshore(*args: str) -> subprocess.CompletedProcess[str]:
    """``onshore ingest mqtt ARGS`` against port 1, where no broker answers."""
    return subprocess.run(
        [sys.executable, "-m", "onshore", "ingest", "mqtt", "--port", "1", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
