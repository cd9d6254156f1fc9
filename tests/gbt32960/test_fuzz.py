"""A CI-sized atheris run over seeds made of real and encoded frames (skips without atheris)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from onshore import gbt32960 as g

HERE = Path(__file__).resolve().parent
REAL = HERE.parents[1] / ".." / "shared" / "data" / "real" / "gbt32960_frames" / "frames.txt"


def _seeds() -> list[bytes]:
    t = datetime(2024, 1, 2, 3, 4, 5)
    blocks16 = (
        g.VehicleData(1, 3, 1, 8.0, 1.5, 300.0, -2.5, 50, 1, 14, 500, 0, 0),
        g.Position(0, 116.4, 39.9),
        g.StorageVoltages((g.StorageVoltage(1, 300.0, 1.0, (3.3, 3.4), 2, 1),)),
        g.RawBlock(0x83, b"\x01\x02"),
    )
    blocks25 = (g.Position(0, 116.4, 39.9, 2), g.Alarms(1, 3, (1,), (), (), (), ((19, 2),)))
    vin = "LSVAG2180CA123456"
    frames = [
        g.Frame(g.Edition.V2016, 2, 0xFE, vin, 1, g.RealTimeReport(t, blocks16)),
        g.Frame(
            g.Edition.V2025,
            2,
            0xFE,
            vin,
            1,
            g.RealTimeReport(t, blocks25, g.Signature(1, b"r", b"s")),
        ),
        g.Frame(g.Edition.V2016, 0x81, 0xFE, vin, 1, g.Parameters(t, ((0x04, 2), (0x05, b"ab")))),
        g.Frame(g.Edition.V2025, 0x0B, 0xFE, vin, 1, g.KeySync(5, b"k" * 16, t, t)),
    ]
    seeds = [g.encode_frame(f) for f in frames]
    if REAL.is_file():
        seeds += [bytes.fromhex(x) for x in REAL.read_text().split()[97:113]]
    return seeds


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("atheris") is None, reason="atheris not installed")
def test_atheris_ci_run(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i, seed in enumerate(_seeds()):
        (corpus / f"seed{i}").write_bytes(seed)
    # Through a shell that forks: libFuzzer reads its peak RSS from getrusage, and a process
    # forked straight from this (large) pytest process starts with pytest's peak RSS, which
    # alone passes the 1 GB limit late in a full run. The shell's child starts from the
    # shell's own few megabytes, so the limit measures the fuzzer.
    fuzz = [sys.executable, str(HERE / "fuzz_decode.py"), "-runs=20000", "-seed=1",
            "-max_len=1024", "-timeout=10", "-rss_limit_mb=1024", str(corpus)]  # fmt: skip
    cmd = ["/bin/sh", "-c", '"$@"; exit $?', "sh", *fuzz]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
