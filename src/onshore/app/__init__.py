"""The use cases: one function each, the same for the CLI, the service and the library.

Each takes its inputs as a stream of :class:`~onshore.io.chunks.Chunk` (a batch, its row
numbers, the records that could not be read), writes through a :class:`~onshore.app.sinks.Sink`
and a quarantine, enters what it did on the data home's ledger when it runs inside one, and
returns a result value; the runners only parse arguments and render results.
"""

from __future__ import annotations

import typing

from onshore._exports import export_lazily

if typing.TYPE_CHECKING:
    from onshore.app.desensitize import DesensitizeResult, desensitize
    from onshore.app.ingest import Delivery, IngestResult, Messages, Receipt, Rows, ingest
    from onshore.app.scan import ScanResult, scan
    from onshore.app.sinks import Collect, KeepBad, Quarantine, Sink
    from onshore.app.transfer import transfer, transfer_staged

__all__ = [
    "Collect",
    "Delivery",
    "DesensitizeResult",
    "IngestResult",
    "KeepBad",
    "Messages",
    "Quarantine",
    "Receipt",
    "Rows",
    "ScanResult",
    "Sink",
    "desensitize",
    "ingest",
    "scan",
    "transfer",
    "transfer_staged",
]

# Each use case is imported when first used: `onshore scan` never loads desensitization.
export_lazily(
    __name__,
    {
        "Collect": "onshore.app.sinks",
        "Delivery": "onshore.app.ingest",
        "DesensitizeResult": "onshore.app.desensitize",
        "IngestResult": "onshore.app.ingest",
        "KeepBad": "onshore.app.sinks",
        "Messages": "onshore.app.ingest",
        "Quarantine": "onshore.app.sinks",
        "Receipt": "onshore.app.ingest",
        "Rows": "onshore.app.ingest",
        "ScanResult": "onshore.app.scan",
        "Sink": "onshore.app.sinks",
        "desensitize": "onshore.app.desensitize",
        "ingest": "onshore.app.ingest",
        "scan": "onshore.app.scan",
        "transfer": "onshore.app.transfer",
        "transfer_staged": "onshore.app.transfer",
    },
    keep=frozenset({"desensitize", "ingest", "scan", "transfer"}),
)
