"""Every error Onshore raises, in one tree.

::

    OnshoreError
    ├── BadInput          bad usage or bad data: carries file, record and field   (exit 2)
    │   ├── PackError     a policy pack that does not validate (file and key)
    │   └── AreaError     a sensitive-area catalogue that does not validate (feature)
    ├── PolicyRefusal     refused by policy: residency or transfer gate          (exit 4)
    ├── IntegrityError    the ledger or a signed artefact does not verify        (exit 3)
    └── StorageError      a store could not be read or written                   (exit 2)
        └── StorageUnavailable  a fault that may clear: disk full, permission      (exit 5)
                                denied, database gone; retrying later may succeed
            └── KeyContested  rows another live ingest worker is storing now (retry)

A refused transfer is a value (a ``Decision``), not an exception; ``PolicyRefusal`` is for
code paths that must stop, such as writing important data to a store abroad.
Foreign exceptions are translated once, at the adapter edge (``raise BadInput(...) from exc``).
"""

from __future__ import annotations


class OnshoreError(Exception):
    """Root of every error Onshore raises on purpose."""

    exit_code = 1


class BadInput(OnshoreError):
    """Bad usage or bad input. Names the file, the record (0-based row) and the field."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        record: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.record = record
        self.field = field
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = []
        if self.file is not None:
            where.append(str(self.file))
        if self.record is not None:
            where.append(f"record {self.record}")
        if self.field is not None:
            where.append(f"field {self.field!r}")
        return f"{': '.join(where)}: {self.message}" if where else self.message


class PackError(BadInput):
    """A policy pack file that does not validate; ``field`` holds the dotted key path."""


class AreaError(BadInput):
    """A sensitive-area catalogue that does not validate; ``record`` is the feature index."""


class PolicyRefusal(OnshoreError):
    """An operation refused by policy (residency, transfer gate)."""

    exit_code = 4


class IntegrityError(OnshoreError):
    """A ledger or signed artefact failed verification."""

    exit_code = 3


class StorageError(OnshoreError):
    """A store could not be read or written."""

    exit_code = 2


class StorageUnavailable(StorageError):
    """A store that cannot be written or read now: disk full, a file too large, permission
    denied, a read-only file system, the database gone. The fault is outside Onshore and may
    clear; nothing half-written is left (a writer retries, a command can be run again)."""

    exit_code = 5


class KeyContested(StorageUnavailable):
    """Rows of a batch are claimed by another live ingest worker's batch still in progress:
    whether they are stored is not known yet, so nothing is stored or acknowledged; retrying
    shortly gives a definite answer (stored, a duplicate, or free again)."""
