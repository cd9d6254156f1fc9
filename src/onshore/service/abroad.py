"""Reads from abroad are exports: they pass the transfer gate as remote access, or are refused.

When a client abroad (see :mod:`onshore.service.auth`) reads personal or important data, the
data the response would carry is written to a staging file and run through the transfer gate
(:meth:`onshore.transfer.execute.TransferGate.run`) with ``access_mode: remote_access``, the
key's name as the recipient and the client's country. The gate classifies it for real, counts
the individuals and checks approvals. If it allows the transfer, the export is recorded (ledger,
counters, outbox package) and the response is sent; if not, the refusal is recorded and the
client gets a 403 problem with the decision's reasons and what is missing.
"""

from __future__ import annotations

import uuid
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from onshore.service.auth import Principal
from onshore.service.problems import ServiceProblem
from onshore.service.state import ServiceState
from onshore.store import DataHome
from onshore.transfer.models import Recipient, TransferRequest


def gate_read(
    state: ServiceState,
    home: DataHome,
    principal: Principal,
    table: pa.Table,
    what: str,
    *,
    label: str | None = None,
) -> dict[str, Any] | None:
    """Pass ``table`` (what the response would carry) through the gate if the client is abroad.

    ``what`` names the read for the client; ``label`` (default ``what``) is what the ledger, the
    transfer log and the annual report call it, and must not hold a VIN or other identifier.
    Returns the allowed outcome (``None`` for a client in the home jurisdiction, or nothing to
    send); raises a 403 :class:`ServiceProblem` when the gate refuses.
    """
    if not principal.abroad or table.num_rows == 0:
        return None
    label = label or what
    staging = home.path / "outbox" / ".remote-access"
    staging.mkdir(parents=True, exist_ok=True)
    path = staging / f"{label.replace(' ', '-')}-{uuid.uuid4().hex[:12]}.parquet"
    pq.write_table(table, path, compression="zstd")
    remote = state.config.remote_access  # config.yaml: the PIA and basis of remote access
    request = TransferRequest(
        dataset=str(path),
        recipient=Recipient(principal.key.name, principal.country or "??"),
        purpose=principal.purpose or f"remote access from abroad: {label}",
        access_mode="remote_access",
        impact_assessment=remote.impact_assessment,
        outbound_basis=remote.outbound_basis,
        outbound_basis_note=remote.outbound_basis_note,
    )
    try:
        outcome = state.gate().run(request, dataset_name=f"remote access: {label}")
    finally:
        path.unlink(missing_ok=True)
    decision = outcome.decision
    if not decision.allowed:
        raise ServiceProblem(
            403,
            f"remote access from {principal.country} to {what} is an export and the transfer "
            f"gate refused it ({decision.mechanism}): " + "; ".join(decision.missing),
            slug="remote-access-refused",
            title="Remote access from abroad refused",
            mechanism=decision.mechanism,
            missing=list(decision.missing),
            reasons=[r.to_dict() for r in decision.reasons],
            decision=outcome.to_dict(),
        )
    return outcome.to_dict()
