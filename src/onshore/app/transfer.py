"""The transfer use case: a request's dataset is a file, or a dataset of the lake.

The CLI (``onshore transfer assess|run REQUEST``) and the service (``POST /v1/transfers/*``)
call this one function, so a request means the same everywhere: ``dataset`` names a file
(Parquet, CSV, JSON lines), or, when there is no such file, a dataset of the data home's lake
(optionally of one ``store``), snapshotted to one file for the gate and removed afterwards.
The ledger, the transfer log and the manifest then name the lake dataset, never the snapshot.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import replace
from pathlib import Path

from onshore.errors import BadInput
from onshore.store.snapshot import snapshot_dataset
from onshore.transfer.execute import Outcome, TransferGate
from onshore.transfer.models import TransferRequest


def transfer(
    gate: TransferGate,
    request: TransferRequest,
    *,
    run: bool,
    store: str | None = None,
    lake_only: bool = False,
) -> Outcome:
    """Assess (``run=False``) or run ``request`` through ``gate``; see the module doc.

    ``lake_only``: ``dataset`` is a lake dataset and never a path (what a remote client names
    is data, never a file of the server)."""
    _check_profile(gate, request)
    if not lake_only and store is None and Path(request.dataset).is_file():
        return gate.run(request) if run else gate.assess(request)
    name = request.dataset
    folder = gate.home.path / "outbox" / ".lake-snapshots" / uuid.uuid4().hex[:12]
    try:
        staged = snapshot_dataset(gate.home, name, folder / "snapshot.parquet", store)
        return transfer_staged(gate, request, staged, name=name, shown=f"dataset {name}", run=run)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def transfer_staged(
    gate: TransferGate,
    request: TransferRequest,
    staged: Path,
    *,
    name: str,
    shown: str,
    run: bool,
) -> Outcome:
    """Assess or run ``request`` on ``staged``, a copy of the data (a lake snapshot, an
    upload): the ledger, the log and the manifest call it ``name``, and an error about the copy
    names ``shown`` (``dataset telemetry``, ``upload trips.csv``), never the staging path."""
    _check_profile(gate, request)
    staged_request = replace(request, dataset=str(staged))
    try:
        if run:
            return gate.run(staged_request, dataset_name=name)
        return gate.assess(staged_request, dataset_name=name)
    except BadInput as exc:
        if exc.file not in (str(staged), name, request.dataset):
            raise
        raise BadInput(exc.message, file=shown, record=exc.record, field=exc.field) from None


def _check_profile(gate: TransferGate, request: TransferRequest) -> None:
    if request.profile is not None and request.profile not in gate.home.pack.profiles:
        profiles = ", ".join(gate.home.pack.profiles)
        raise BadInput(f"no profile {request.profile!r} (profiles: {profiles})", field="profile")
