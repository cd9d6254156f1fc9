"""Helpers of the console tests: the running service, as the tests talk to it."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Seeded:
    """A seeded data home: its folder, the demo files, one key per role, a VIN it holds."""

    home: Path
    sample: Path
    keys: dict[str, str]
    vin: str


@dataclass(frozen=True)
class Server:
    url: str
    seeded: Seeded

    def get(self, path: str, role: str) -> Any:
        request = urllib.request.Request(
            self.url + path, headers={"X-API-Key": self.seeded.keys[role]}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def post(self, path: str, role: str, body: dict[str, Any]) -> Any:
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(body).encode(),
            method="POST",
            headers={"X-API-Key": self.seeded.keys[role], "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())
