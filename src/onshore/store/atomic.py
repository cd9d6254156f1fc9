"""Crash-safe file writes: write a temporary file, fsync it, ``os.replace`` it, fsync the folder.

Files written here are owner-only (``0600``, folders ``0700``; :mod:`onshore.private`).

A reader (or a restart after a crash) sees the old file or the new one, never a mix: the rename
is atomic on POSIX file systems, and the fsyncs make it survive a power cut. Temporaries are
dot-files (``.NAME.tmp-PID-RANDOM``) that lake listings skip and :func:`remove_stale_temps`
clears.

>>> import tempfile, pyarrow as pa, pyarrow.parquet as pq
>>> path = Path(tempfile.mkdtemp()) / "part.parquet"
>>> size = write_parquet_atomic(path, pa.table({"x": [1, 2]}))
>>> pq.read_table(path).num_rows
2
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from onshore.errors import StorageUnavailable
from onshore.private import create_private_file, make_private_dir

ROW_GROUP_ROWS = 131_072
TEMP_MARK = ".tmp-"


def temp_path(path: Path) -> Path:
    """A fresh temporary name beside ``path`` (same folder, so the rename stays atomic)."""
    return path.with_name(f".{path.name}{TEMP_MARK}{os.getpid()}-{secrets.token_hex(4)}")


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def storage_fault(action: str, exc: OSError) -> StorageUnavailable:
    """``exc`` (disk full, file too large, permission denied, ...) as one line: what failed
    and why, without a traceback. The caller raises it ``from exc``.

    >>> str(storage_fault("cannot write x", OSError(28, "No space left on device")))
    'cannot write x: no space left on the device (ENOSPC)'
    """
    code = errno.errorcode.get(exc.errno or 0)
    why = _WHY.get(exc.errno or 0) or (exc.strerror or str(exc))
    return StorageUnavailable(f"{action}: {why}" + (f" ({code})" if code else ""))


_WHY = {
    errno.ENOSPC: "no space left on the device",
    errno.EFBIG: "file too large (a file-size limit)",
    errno.EDQUOT: "disk quota exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
    errno.EIO: "input/output error",
}


def replace_atomic(source: Path, target: Path) -> None:
    """fsync ``source``, rename it over ``target``, fsync the target's folder."""
    try:
        fsync_file(source)
        make_private_dir(target.parent)
        os.replace(source, target)
        fsync_dir(target.parent)
    except OSError as exc:
        raise storage_fault(f"cannot move {source} to {target}", exc) from exc


def write_parquet_atomic(
    path: Path,
    table: pa.Table,
    *,
    before_replace: Callable[[Path], None] | None = None,
) -> int:
    """Write ``table`` to ``path`` atomically; returns the new file's size in bytes.

    ``before_replace`` is called with the finished, fsynced temporary file just before the
    rename (tests use it to crash there).
    """
    tmp = temp_path(path)
    try:
        create_private_file(tmp)  # owner-only (0600); pyarrow truncates it and keeps the mode
        pq.write_table(table, tmp, compression="zstd", row_group_size=ROW_GROUP_ROWS)
        fsync_file(tmp)
        if before_replace is not None:
            before_replace(tmp)
        size = tmp.stat().st_size
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise storage_fault(f"cannot write {path}", exc) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return size


def remove_atomic(path: Path) -> None:
    """Unlink ``path`` and make the removal durable."""
    try:
        path.unlink(missing_ok=True)
        fsync_dir(path.parent)
    except OSError as exc:
        raise storage_fault(f"cannot remove {path}", exc) from exc


def remove_stale_temps(root: Path) -> int:
    """Remove temporaries left under ``root`` by a crashed writer; returns how many.

    Only temporaries of processes that are gone are removed.
    """
    removed = 0
    if not root.is_dir():
        return 0
    for tmp in root.rglob(f".*{TEMP_MARK}*"):
        pid_text = tmp.name.rsplit(TEMP_MARK, 1)[1].split("-", 1)[0]
        if pid_text.isdigit() and _alive(int(pid_text)):
            continue
        tmp.unlink(missing_ok=True)
        removed += 1
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
