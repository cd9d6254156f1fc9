"""``onshore ledger …`` end to end, and the auditor's path: export + proof + public key only."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from ledger_support import make_entry

from onshore.cli._common import run_guarded
from onshore.cli.ledger import ledger as ledger_group
from onshore.keystore import Keystore
from onshore.ledger import Activity, Ledger, verify_proof_standalone
from onshore.ledger.audit import main as audit_main


@pytest.fixture
def home(tmp_path: Path) -> Path:
    with Ledger.open(home=tmp_path, keystore=Keystore(tmp_path / "keys", environ={})) as log:
        for n in range(12):
            kind = Activity.EXPORT if n % 4 == 0 else Activity.COLLECTION
            log.append(make_entry(n, kind, dataset="charging" if n % 3 == 0 else "telemetry"))
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = run_guarded(ledger_group, list(args))
    return code, capsys.readouterr().out


def test_verify_intact_and_tampered(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "verify", "--home", str(home), "--json")
    assert code == 0 and json.loads(out)["ok"] is True
    with sqlite3.connect(home / "meta.db") as conn:
        conn.execute("DELETE FROM ledger_entries WHERE idx = 7")
    code, out = run(capsys, "verify", "--home", str(home), "--json")
    report = json.loads(out)
    assert code == 3
    assert report["ok"] is False and report["first_bad_index"] == 7
    code, _ = run(capsys, "verify", "--db", f"sqlite:///{home / 'meta.db'}")
    assert code == 3


def test_verify_missing_database_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run(capsys, "verify", "--home", str(tmp_path / "nowhere"))
    assert code == 2
    assert not (tmp_path / "nowhere").exists()


def test_trusted_head_catches_a_cut_tail(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "head", "--home", str(home))
    assert code == 0
    saved = home / "head.json"
    saved.write_text(out)
    with sqlite3.connect(home / "meta.db") as conn:  # cut entries and heads alike
        conn.execute("DELETE FROM ledger_entries WHERE idx >= 10")
        conn.execute("DELETE FROM ledger_heads WHERE tree_size > 10")
        conn.execute("UPDATE ledger_state SET head_count = 10")
    code, _ = run(capsys, "verify", "--home", str(home), "--trusted-head", str(saved))
    assert code == 3


def test_list_filters(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "list", "--home", str(home), "--kind", "export", "--json")
    assert code == 0
    assert [json.loads(line)["index"] for line in out.splitlines()] == [0, 4, 8]
    code, out = run(capsys, "list", "--home", str(home), "--dataset", "charging", "--json")
    assert [json.loads(line)["index"] for line in out.splitlines()] == [0, 3, 6, 9]
    code, out = run(capsys, "list", "--home", str(home), "--limit", "2")
    assert code == 0 and "collection" in out


def test_export_and_audit_with_public_key_alone(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "audit" / "ledger.jsonl"
    code, _ = run(capsys, "export", str(export), "--home", str(home))
    assert code == 0
    key = Path(f"{export}.pub.pem")
    assert key.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    proof = tmp_path / "proof.json"
    code, _ = run(capsys, "proof", "5", "--home", str(home), "--out", str(proof))
    assert code == 0
    # The auditor: no home, no keystore, just the three files.
    summary = verify_proof_standalone(proof, key, export)
    assert summary["verified"] and summary["leaf_index"] == 5 and summary["tree_size"] == 12
    assert audit_main(["--key", str(key), "--proof", str(proof), "--log", str(export)]) == 0
    assert audit_main(["--key", str(key), "--log", str(export)]) == 0
    # A consistency proof too.
    cproof = tmp_path / "consistency.json"
    assert run(capsys, "consistency", "4", "--home", str(home), "--out", str(cproof))[0] == 0
    assert audit_main(["--key", str(key), "--proof", str(cproof), "--log", str(export)]) == 0
    # Raw hex keys work as well as PEM.
    hex_key = tmp_path / "key.hex"
    header = json.loads(export.read_text().splitlines()[0])
    hex_key.write_text("\n".join(header["public_keys"].values()))
    assert audit_main(["--key", str(hex_key), "--proof", str(proof)]) == 0
    capsys.readouterr()

    # Tampering with the export, the proof, or using another key: exit 3.
    lines = export.read_text().splitlines()
    line = json.loads(lines[4])
    line["entry"]["actor"] = "someone-else"
    lines[4] = json.dumps(line)
    forged = tmp_path / "forged.jsonl"
    forged.write_text("\n".join(lines) + "\n")
    assert audit_main(["--key", str(key), "--log", str(forged)]) == 3
    assert audit_main(["--key", str(key), "--proof", str(proof), "--log", str(forged)]) == 3
    bad_proof = json.loads(proof.read_text())
    bad_proof["entry"]["counts"]["records"] += 1
    bad = tmp_path / "bad-proof.json"
    bad.write_text(json.dumps(bad_proof))
    assert audit_main(["--key", str(key), "--proof", str(bad)]) == 3
    other = Keystore(tmp_path / "other", environ={}).ledger_signing_key().ed25519_public()
    with pytest.raises(Exception, match="does not verify"):
        verify_proof_standalone(proof, other)
    assert audit_main(["--key", str(tmp_path / "missing.pem"), "--proof", str(proof)]) == 2


def test_every_command_has_help_with_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("verify", "proof", "consistency", "export", "head", "list"):
        code, out = run(capsys, command, "--help")
        assert code == 0 and "Example" in out, command


def test_audit_runs_as_a_module(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import subprocess
    import sys

    export = tmp_path / "ledger.jsonl"
    assert run(capsys, "export", str(export), "--home", str(home))[0] == 0
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "onshore.ledger.audit",
            "--key",
            f"{export}.pub.pem",
            "--log",
            str(export),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["verified"] is True


def test_unknown_activity_is_bad_input(home: Path) -> None:
    from onshore.errors import BadInput

    with (
        Ledger.open(home=home, keystore=Keystore(home / "keys", environ={})) as log,
        pytest.raises(BadInput, match="one of"),
    ):
        log.record("sharing", actor="a", purpose="p", dataset="d")
