"""A real data home seeded from the demo fleet, the real service on a free port, and Chromium.

The home is built once per session (``onshore demo-data`` + ``onshore store put``, the
processor config from ``examples/config.yaml``, the demo's sensitive areas) and copied for each
test that changes it.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from click.testing import CliRunner
from console_support import Seeded, Server

from onshore.cli import cli

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROLES = ("compliance", "operator", "auditor")


def run_cli(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _seed(base: Path) -> tuple[Path, Path]:
    sample = base / "sample"
    home = base / "home"
    run_cli("demo-data", str(sample), "--vehicles", "12", "--days", "1", "--seed", "7")
    home.mkdir()
    shutil.copy(ROOT / "examples" / "config.yaml", home / "config.yaml")
    shutil.copy(sample / "areas.geojson", home / "areas.geojson")
    areas = str(sample / "areas.geojson")
    run_cli(
        "store", "put", str(sample / "telemetry.parquet"), "--dataset", "telemetry",
        "--areas", areas, "--purpose", "national_monitoring", "--home", str(home),
    )  # fmt: skip
    run_cli(
        "store", "put", str(sample / "owners.csv"), "--dataset", "owners",
        "--purpose", "maintenance", "--home", str(home),
    )  # fmt: skip
    run_cli(
        "store", "put", str(sample / "charging_sessions.parquet"), "--dataset",
        "charging_sessions", "--purpose", "maintenance", "--home", str(home),
    )  # fmt: skip
    return home, sample


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return _seed(tmp_path_factory.mktemp("console-seed"))


def _copy(template: tuple[Path, Path], target: Path) -> Seeded:
    home_src, sample = template
    home = target / "home"
    shutil.copytree(home_src, home)
    keys = {}
    for role in ROLES:
        args = ["serve", "keys", "add", "--role", role, "--name", f"test {role}", "--json"]
        made = json.loads(run_cli(*args, "--home", str(home)))
        keys[role] = made["key"]
    with (sample / "owners.csv").open(encoding="utf-8") as f:
        vin = next(csv.DictReader(f))["vin"]
    return Seeded(home, sample, keys, vin)


@pytest.fixture
def seeded(seeded_template: tuple[Path, Path], tmp_path: Path) -> Seeded:
    """A fresh copy of the seeded home for one test."""
    return _copy(seeded_template, tmp_path)


# -- the real service ------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(
    seeded_template: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """``onshore serve`` in a subprocess on a free port, against a copy of the seeded home."""
    seeded = _copy(seeded_template, tmp_path_factory.mktemp("console-server"))
    port = free_port()
    log = (seeded.home.parent / "serve.log").open("wb")
    env = {**os.environ, "ONSHORE_HOME": str(seeded.home)}
    process = subprocess.Popen(
        [sys.executable, "-m", "onshore", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--home", str(seeded.home), "--log-level", "warning", "--no-access-log"],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url + "/v1/health", timeout=2):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                log.close()
                output = (seeded.home.parent / "serve.log").read_text(errors="replace")
                process.kill()
                pytest.fail(f"onshore serve did not start:\n{output}")
            time.sleep(0.2)
    try:
        yield Server(url, seeded)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


# -- the browser -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium (make sysdeps)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is missing: pip install playwright (the dev extra)")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where screenshots go (ONSHORE_CONSOLE_SHOTS to keep them)."""
    keep = os.environ.get("ONSHORE_CONSOLE_SHOTS")
    folder = Path(keep) if keep else tmp_path / "shots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
