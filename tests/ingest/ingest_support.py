"""Messages for the ingest tests: JSON telemetry and GB/T 32960.3 real-time frames."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from onshore import gbt32960 as g

T0 = datetime(2026, 3, 2, 8, 0, 0, tzinfo=UTC)
T0_MS = int(T0.timestamp() * 1000)


def vin(i: int) -> str:
    return f"LSVAU2180N2{i:06d}"


def json_message(i: int, second: int, **extra: object) -> bytes:
    """Vehicle ``i`` at ``T0 + second``."""
    body = {
        "vin": vin(i),
        "ts": T0_MS + second * 1000,
        "lat": 39.9 + i * 1e-4,
        "lon": 116.4 + second * 1e-5,
        "Vehicle": {"Speed": 42.0},
        "soc": 80.5,
        **extra,
    }
    return json.dumps(body).encode()


def gbt_frame(i: int, second: int, command: int = 2) -> bytes:
    """A 2016 real-time (or re-send) frame of vehicle ``i`` at ``T0 + second`` (UTC)."""
    beijing = (T0 + timedelta(seconds=second)).astimezone(UTC).replace(tzinfo=None)
    beijing += timedelta(hours=8)
    pos = g.Position(status=0, longitude=116.4 + i * 1e-4, latitude=39.9)
    report = g.RealTimeReport(beijing, (pos,))
    return g.encode_frame(g.Frame(g.Edition.V2016, command, 0xFE, vin(i), 1, report))
