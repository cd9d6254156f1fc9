"""What the gate packages: bad input rows are counted, never silently dropped or shipped."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from onshore.classify.vin import vin_check_char
from onshore.config import load_config
from onshore.store import DataHome
from onshore.transfer.execute import TransferGate
from onshore.transfer.models import Recipient, TransferRequest


def _vin(i: int) -> str:
    body = f"LSVAB2180N{i:07d}"
    return body[:8] + vin_check_char(body) + body[9:]


def test_unreadable_rows_are_counted_in_the_outcome_and_not_exported(tmp_path: Path) -> None:
    lines = [
        f'{{"vin": "{_vin(i)}", "ts": "2026-11-02T08:00:0{i}Z", "speed": {i}}}' for i in range(5)
    ]
    lines.insert(2, '{"vin": "' + _vin(9) + '", "ts": "2026-11-02T08:00:09Z", "speed": ')  # cut
    lines.insert(4, "[1, 2, 3]")
    (tmp_path / "speeds.jsonl").write_text("\n".join(lines) + "\n")
    home = tmp_path / "home"
    home.mkdir()
    request = TransferRequest(
        dataset=str(tmp_path / "speeds.jsonl"),
        recipient=Recipient("Acme GmbH", "DE"),
        purpose="warranty analytics",
        impact_assessment="PIA-1",
        outbound_basis="contract",
        outbound_basis_note="warranty contract clause 12",
    )
    with DataHome(home) as h:
        outcome = TransferGate(h, load_config(None, home=home)).run(request)
    assert outcome.decision.allowed, outcome.decision
    assert outcome.rows_quarantined == 2 and outcome.to_dict()["rows_quarantined"] == 2
    assert outcome.package is not None
    shipped = pq.read_table(outcome.package / "data.parquet")
    assert shipped.num_rows == 5
    assert not (outcome.package / "quarantine.jsonl").exists()
    assert _vin(9) not in (outcome.package / "data.parquet").read_bytes().decode("latin-1")
