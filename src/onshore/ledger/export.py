"""Export the ledger to JSON lines plus the public key, and read such an export back.

``export_ledger(ledger, "audit.jsonl")`` writes:

* ``audit.jsonl`` — a header line (format, public keys, counts), one line per entry (index, leaf
  hash, the entry as JSON), one line per signed tree head, up to the latest head;
* ``audit.jsonl.pub.pem`` — the ledger's public key(s), PEM. Hand it over on a separate channel:
  an auditor should check against a key they trust, not one that travels with the log.

Each entry's leaf hash is ``SHA-256(0x00 || canonical JSON of "entry")``, so the export alone
lets anyone rebuild the tree (see ``onshore.ledger.audit``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onshore.errors import BadInput, StorageError
from onshore.ledger.backend import StoredEntry
from onshore.ledger.entry import LedgerEntry, canonical_json, format_time
from onshore.ledger.head import SignedTreeHead, public_key_hex, public_key_pem

if TYPE_CHECKING:  # the ledger imports nothing from here; this only names its type
    from onshore.ledger.log import Ledger

EXPORT_FORMAT = "onshore-ledger-export/1"


@dataclass(frozen=True)
class ExportResult:
    """Where the export went and what it holds."""

    log_path: Path
    key_path: Path
    entries: int
    heads: int


def export_ledger(ledger: Ledger, out: str | os.PathLike[str]) -> ExportResult:
    """Write ``out`` (JSON lines) and ``out.pub.pem`` from an open ``Ledger``.

    >>> import tempfile
    >>> from datetime import datetime, timezone
    >>> from onshore.keystore import Keystore
    >>> from onshore.ledger import Ledger
    >>> home = tempfile.mkdtemp()
    >>> with Ledger.open(home=home, keystore=Keystore(f"{home}/keys", environ={})) as ledger:
    ...     _ = ledger.record("view", actor="dpo", purpose="audit", dataset="telemetry")
    ...     result = export_ledger(ledger, f"{home}/audit.jsonl")
    >>> result.entries, result.heads
    (1, 1)
    """
    log_path = Path(out)
    key_path = log_path.with_name(log_path.name + ".pub.pem")
    # A snapshot at the latest head: appends running meanwhile are left out, not half in.
    heads = ledger.backend.heads()
    size = heads[-1].tree_size if heads else 0
    tmp = log_path.with_name(f".{log_path.name}.{os.getpid()}.tmp")
    count = 0
    try:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("w", encoding="utf-8") as handle:
            header = {
                "type": "header",
                "format": EXPORT_FORMAT,
                "public_keys": {
                    k: public_key_hex(v) for k, v in sorted(ledger.public_keys.items())
                },
                "entries": size,
                "heads": len(heads),
            }
            handle.write(json.dumps(header, sort_keys=True) + "\n")
            for row in ledger.backend.iter_entries(0, size):
                line = {
                    "type": "entry",
                    "index": row.index,
                    "leaf_hash": row.leaf_hash.hex(),
                    "entry": json.loads(row.entry),
                }
                handle.write(json.dumps(line, sort_keys=True, ensure_ascii=False) + "\n")
                count += 1
            for head in heads:
                handle.write(json.dumps({"type": "head", **head.to_dict()}, sort_keys=True) + "\n")
        os.replace(tmp, log_path)
        key_path.write_text(
            "".join(public_key_pem(k) for _, k in sorted(ledger.public_keys.items())),
            encoding="ascii",
        )
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StorageError(f"cannot write the ledger export {log_path}: {exc}") from exc
    return ExportResult(log_path, key_path, count, len(heads))


@dataclass(frozen=True)
class ExportedLog:
    """An export read back: stored rows (as the verifier sees them) and heads."""

    header: dict[str, Any]
    rows: tuple[StoredEntry, ...]
    heads: tuple[SignedTreeHead, ...]


def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle):
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise BadInput(f"not JSON: {exc}", file=str(path), record=number) from exc
                if not isinstance(value, dict):
                    raise BadInput("not a JSON object", file=str(path), record=number)
                yield number, value
    except OSError as exc:
        raise BadInput(f"cannot read the ledger export: {exc}", file=str(path)) from exc


def read_export(path: str | os.PathLike[str]) -> ExportedLog:
    """Read an export. Leaf hashes are *recomputed* from the entries; the ``leaf_hash`` field
    is kept as the stored value, so a changed entry shows up as a mismatch."""
    file = Path(path)
    header: dict[str, Any] = {}
    rows: list[StoredEntry] = []
    heads: list[SignedTreeHead] = []
    for number, line in _lines(file):
        kind = line.get("type")
        try:
            if kind == "header":
                if line.get("format") != EXPORT_FORMAT:
                    raise BadInput(f"unknown export format {line.get('format')!r}")
                header = line
            elif kind == "entry":
                data = canonical_json(line["entry"])
                try:
                    entry = LedgerEntry.from_bytes(data)
                    columns = (entry.kind.value, entry.dataset, format_time(entry.time))
                except BadInput:
                    columns = ("", "", "")  # left for verification to report
                index, stored_hash = int(line["index"]), bytes.fromhex(line["leaf_hash"])
                rows.append(StoredEntry(index, stored_hash, data, *columns))
            elif kind == "head":
                heads.append(SignedTreeHead.from_dict(line))
            else:
                raise BadInput(f"unknown line type {kind!r}")
        except (KeyError, TypeError, ValueError) as exc:
            raise BadInput(f"malformed line: {exc!r}", file=str(file), record=number) from exc
        except BadInput as exc:
            if exc.file is None:
                raise BadInput(exc.message, file=str(file), record=number) from exc
            raise
    if not header:
        raise BadInput("no header line: not an Onshore ledger export", file=str(file))
    return ExportedLog(header, tuple(rows), tuple(heads))
