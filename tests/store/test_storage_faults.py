"""Storage faults on the command line: a full disk (a file-size limit) or a revoked
permission ends in one line and exit 5, and leaves no partial file."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fault_support import ONSHORE, file_size_limit, honouring_permissions

from onshore.errors import StorageUnavailable


@pytest.fixture
def telemetry(tmp_path: Path) -> Path:
    n = 60_000
    table = pa.table(
        {
            "vin": [f"LSVAU2180N2{i % 500:06d}" for i in range(n)],
            "ts": pa.array([1_767_225_600_000 + i * 1000 for i in range(n)], pa.timestamp("ms")),
            "speed": [float(i % 130) for i in range(n)],
            "noise": [f"{i * 7919 % 1_000_003:x}" for i in range(n)],
        }
    )
    path = tmp_path / "telemetry.parquet"
    pq.write_table(table, path, compression="none")
    return path


def _put(
    home: Path,
    source: Path,
    dataset: str,
    *,
    preexec: Callable[[], None] | None = None,
    wrap: Callable[[list[str]], list[str]] = list,
) -> subprocess.CompletedProcess[str]:
    argv = [*ONSHORE, "store", "put", str(source), "--dataset", dataset, "--home", str(home)]
    return subprocess.run(
        wrap(argv),
        capture_output=True,
        text=True,
        env={"ONSHORE_JURISDICTION": "CN", "PATH": "/usr/bin:/bin", "COLUMNS": "80"},
        timeout=120,
        preexec_fn=preexec,
        check=False,
    )


def _parquet(home: Path) -> list[Path]:
    return sorted(home.rglob("*.parquet"))


def test_store_put_on_a_full_disk_is_one_line_and_exit_5(tmp_path: Path, telemetry: Path) -> None:
    home = tmp_path / "home"
    first = _put(home, telemetry, "warmup")  # the home exists, so the limit hits the lake
    assert first.returncode == 0, first.stderr
    before = _parquet(home)
    done = _put(home, telemetry, "telemetry", preexec=file_size_limit(200_000))
    assert done.returncode == StorageUnavailable.exit_code == 5, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "EFBIG" in lines[0] and "Traceback" not in done.stderr
    assert _parquet(home) == before  # no partial file


def test_store_put_without_permission_is_one_line_and_exit_5(
    tmp_path: Path, telemetry: Path
) -> None:
    home = tmp_path / "home"
    assert _put(home, telemetry, "warmup").returncode == 0
    lake = home / "lake"  # no new dataset folder can be made in it
    lake.chmod(0o500)
    try:
        done = _put(home, telemetry, "telemetry", wrap=honouring_permissions)
    finally:
        lake.chmod(0o700)
    assert done.returncode == 5, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "permission denied" in lines[0], done.stderr
