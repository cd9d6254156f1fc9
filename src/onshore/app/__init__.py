"""The use cases: one function each, the same for the CLI, the service and the library.

Each takes its inputs as a stream of :class:`~onshore.io.chunks.Chunk` (a batch, its row
numbers, the records that could not be read), writes through a :class:`~onshore.app.sinks.Sink`
and a quarantine, enters what it did on the data home's ledger when it runs inside one, and
returns a result value; the runners only parse arguments and render results.
"""

from onshore.app.desensitize import DesensitizeResult, desensitize
from onshore.app.scan import ScanResult, scan
from onshore.app.sinks import Collect, KeepBad, Quarantine, Sink
from onshore.app.transfer import transfer, transfer_staged

__all__ = [
    "Collect",
    "DesensitizeResult",
    "KeepBad",
    "Quarantine",
    "ScanResult",
    "Sink",
    "desensitize",
    "scan",
    "transfer",
    "transfer_staged",
]
