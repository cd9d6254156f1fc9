"""Issue 17 end to end: a vehicle reaches every place Onshore keeps data (HTTP and MQTT ingest,
a rejected body in the quarantine, consents, a read from abroad the gate allows, an export
package, the annual report); then it is deleted over HTTP, and every byte under the data home
and every log the scenario wrote is searched for the VIN in any encoding: none is left, the
evidence lists every place and the recipients to tell, and the ledger verifies."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "service"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ingest"))

from mqtt_support import HOST, PORT, Publisher, require_broker, unique
from service_support import (
    JSONL,
    ONSHORE,
    api_key,
    free_port,
    jsonl,
    message,
    vin,
)

from onshore.store.places import count_vin_bytes

pytestmark = pytest.mark.integration
TARGET = vin(7)
OTHER = vin(8)


def hits_in_file(path: Path, target: str) -> int:
    """The VIN in a file: its bytes in any encoding, the cells of a Parquet file, the members
    of a zip, a gzip's content."""
    data = path.read_bytes()
    hits = count_vin_bytes(data, target)
    if path.suffix == ".parquet" and data[:4] == b"PAR1":
        table = pq.read_table(path)
        for column in table.columns:
            if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
                hits += sum(1 for v in column.to_pylist() if v and target in v)
    elif data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            hits += sum(count_vin_bytes(archive.read(n), target) for n in archive.namelist())
    elif data[:2] == b"\x1f\x8b":
        hits += count_vin_bytes(gzip.decompress(data), target)
    return hits


def grep_tree(root: Path, target: str) -> dict[str, int]:
    return {
        str(p.relative_to(root)): n
        for p in sorted(root.rglob("*"))
        if p.is_file() and (n := hits_in_file(p, target))
    }


@contextmanager
def serving(home: Path, log: Path) -> Iterator[str]:
    import httpx

    port = free_port()
    with open(log, "ab") as err:
        server = subprocess.Popen(
            [*ONSHORE, "serve", "--home", str(home), "--port", str(port)],
            stdout=err,
            stderr=err,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def run(*args: str, log: Path) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([*ONSHORE, *args], capture_output=True, text=True, timeout=300)
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(out.stdout + out.stderr)
    assert out.returncode == 0, out.stdout + out.stderr
    return out


def test_a_deleted_vehicle_is_nowhere_under_the_home_nor_in_any_log(tmp_path: Path) -> None:
    import httpx

    require_broker()
    home = tmp_path / "home"
    logs = tmp_path / "logs"
    logs.mkdir()
    home.mkdir()
    (home / "config.yaml").write_text(
        "remote_access:\n  impact_assessment: PIA-TEST-1\n  outbound_basis: contract\n"
        "  outbound_basis_note: service agreement SA-7 clause 4 (remote support)\n"
    )
    ingest_key = api_key(home, "ingest", "gateway")
    compliance = api_key(home, "compliance", "dpo")
    auditor = api_key(home, "auditor", "auditor abroad")

    with serving(home, logs / "serve.log") as base:
        # HTTP ingest: the target and another vehicle; a body that is not JSON is quarantined
        body = jsonl([message(i, s) for i in (7, 8) for s in range(20)])
        r = httpx.post(
            f"{base}/v1/ingest/telemetry", content=body, headers={"X-API-Key": ingest_key, **JSONL}
        )
        assert r.status_code == 200, r.text
        bad = (json.dumps(message(7, 99))[:-3] + " not json\n").encode() * 3
        r = httpx.post(
            f"{base}/v1/ingest/telemetry", content=bad, headers={"X-API-Key": ingest_key, **JSONL}
        )
        assert r.status_code in (200, 422), r.text
        # consents of both vehicles, and a read from abroad the gate allows (an export)
        for who in (TARGET, OTHER):
            r = httpx.post(
                f"{base}/v1/consents",
                json={"vin": who, "category": "location.trajectory", "purpose": "navigation",
                      "days": 30},
                headers={"X-API-Key": compliance},
            )  # fmt: skip
            assert r.status_code == 201, r.text
        r = httpx.get(
            f"{base}/v1/consents",
            headers={"X-API-Key": auditor, "X-Onshore-Client-Country": "DE",
                     "X-Onshore-Purpose": "audit"},
        )  # fmt: skip
        assert r.status_code == 200 and r.json()["remote_access"]["allowed"], r.text
        r = httpx.get(f"{base}/v1/consents?vin={TARGET}", headers={"X-API-Key": compliance})
        assert r.status_code == 200

    # MQTT ingest: the worker stores the target's messages and quarantines a bad one
    topic = unique("vehicles")
    with open(logs / "mqtt.log", "wb") as err:
        worker = subprocess.Popen(
            [*ONSHORE, "ingest", "mqtt", "--home", str(home), "--host", HOST, "--port", str(PORT),
             "--client-id", unique("worker"), "--topic", f"{topic}/+/telemetry=json:telemetry",
             "--idle-exit", "4", "--verbose"],
            stdout=err, stderr=err,
        )  # fmt: skip
    time.sleep(2.5)  # subscribed
    publisher = Publisher()
    for s in range(30, 40):
        publisher.publish(f"{topic}/{TARGET}/telemetry", json.dumps(message(7, s)).encode())
    publisher.publish(f"{topic}/{TARGET}/telemetry", f'{{"vin": "{TARGET}", "ts": '.encode())
    time.sleep(1)
    publisher.close()
    worker.wait(timeout=120)
    assert worker.returncode in (0, 5), (logs / "mqtt.log").read_text()

    # an export package of the lake dataset, and the annual report
    request = tmp_path / "request.yaml"
    request.write_text(
        "dataset: telemetry\npurpose: warranty analytics\n"
        "recipient: {name: Acme GmbH, country: DE, contact: dpo@acme.example}\n"
        "impact_assessment: PIA-2026-01\noutbound_basis: contract\n"
        "outbound_basis_note: warranty contract clause 12\n"
    )
    run("transfer", "approvals", "add", "--id", "SCC-2026-01", "--kind", "standard_contract",
        "--recipient", "Acme GmbH", "--issued", "2026-01-05", "--reference", "contracts/scc-1.pdf",
        "--home", str(home), log=logs / "cli.log")  # fmt: skip
    run("transfer", "run", str(request), "--home", str(home), "--json", log=logs / "cli.log")
    report = str(tmp_path / "report.md")
    report = str(tmp_path / "report.md")
    run("report", "--year", "2026", "--lang", "en", "--format", "md", "--out", report,
        "--home", str(home), log=logs / "cli.log")  # fmt: skip

    before = grep_tree(home, TARGET)
    assert {p.split(os.sep)[0] for p in before} >= {"lake", "meta.db", "outbox", "quarantine"}

    with serving(home, logs / "serve.log") as base:
        r = httpx.delete(f"{base}/v1/subjects/{TARGET}", headers={"X-API-Key": compliance})
        assert r.status_code == 200, r.text
        evidence = r.json()

    # nothing left under the home, nor in any log the scenario wrote
    assert grep_tree(home, TARGET) == {}
    assert grep_tree(logs, TARGET) == {}
    assert TARGET not in (tmp_path / "report.md").read_text()
    # the other vehicle is untouched
    assert any(p.startswith("lake") for p in grep_tree(home, OTHER))
    # the evidence: every place, what it found, nothing remaining, the recipients to tell
    assert evidence["remaining"] == 0 and evidence["rows_remaining"] == 0
    places = {p["place"]: p for p in evidence["places"]}
    for name in ("lake", "consents", "ingest-keys", "quarantine", "outbox", "database-files"):
        assert places[name]["remaining"] == 0, places[name]
    assert places["lake"]["found"] == 30 and places["ingest-keys"]["found"] == 30  # HTTP, MQTT
    assert places["quarantine"]["found"] > 0 and places["outbox"]["found"] > 0
    assert "logs" in evidence["unchecked"]
    recipients = {r["recipient"] for r in evidence["recipients"]}
    assert recipients == {"Acme GmbH", "auditor abroad"}
    assert all(r["at"] and r["package"] for r in evidence["recipients"])
    run("ledger", "verify", "--home", str(home), log=logs / "cli-after.log")
