"""File adapters: stream Arrow batches from Parquet, CSV and JSON lines; write the results."""

from onshore.io.readers import Source, open_source
from onshore.io.writers import QuarantineWriter, TableWriter, quarantine_path

__all__ = ["QuarantineWriter", "Source", "TableWriter", "open_source", "quarantine_path"]
