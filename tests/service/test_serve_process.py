"""``onshore serve`` as a real uvicorn process on loopback: a key, an ingest, a verify."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from service_support import JSONL, jsonl, message

pytestmark = pytest.mark.slow


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_on_loopback(tmp_path: Path) -> None:
    onshore = [sys.executable, "-m", "onshore"]
    home = str(tmp_path / "home")
    key = subprocess.run(
        [*onshore, "serve", "keys", "add", "--role", "operator", "--name", "t", "--home", home],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    port = _port()
    server = subprocess.Popen(
        [*onshore, "serve", "--home", home, "--port", str(port), "--max-body-bytes", "100000"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        headers = {"X-API-Key": key}
        body = jsonl([message(i, s) for i in range(5) for s in range(3)])
        r = httpx.post(f"{base}/v1/ingest/telemetry", content=body, headers={**headers, **JSONL})
        assert r.status_code == 200, r.text
        assert r.json()["stored"] == 15
        assert httpx.get(f"{base}/v1/ledger/verify", headers=headers).json()["ok"] is True
        big = httpx.post(
            f"{base}/v1/ingest/t", content=b"x" * 200_000, headers={**headers, **JSONL}
        )
        assert big.status_code == 413
        assert big.headers["content-type"] == "application/problem+json"
        assert httpx.get(f"{base}/openapi.json").json()["info"]["title"] == "Onshore"
    finally:
        server.terminate()
        server.wait(timeout=30)
