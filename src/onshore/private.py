"""Owner-only files and folders in the data home, whatever the process umask.

The data home holds personal data (the lake, quarantined messages, outbox packages), the
ledger and the keys. Onshore keeps it from other local users in two layers:

* the home folder itself is ``0700``: nothing below it can be reached by another user, whatever
  the modes of what is inside (this covers every writer, present and future);
* what the storage layer writes is owner-only too (folders ``0700``, files ``0600``): the
  metadata database and its ``-wal``/``-shm`` files, the lake's Parquet files (a store may be
  declared outside the home), the quarantine. A copied or moved file keeps its mode.

The process umask is left alone: it is process-wide state, shared with every thread and library
of the caller, and a library has no business changing it. Modes are set explicitly instead
(``mkdir``/``open`` with ``0700``/``0600``, then ``chmod`` so that an odd umask cannot take the
owner's own bits away).

A home that already exists and that group or others may enter is fixed at open (``chmod 0700``)
with one warning on the ``onshore.store`` logger, as is a ``meta.db`` they may read.

>>> import os, stat, tempfile
>>> from pathlib import Path
>>> home = Path(tempfile.mkdtemp()) / "home"
>>> secure_home(home)
>>> oct(stat.S_IMODE(home.stat().st_mode))
'0o700'
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
_OTHERS = stat.S_IRWXG | stat.S_IRWXO
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")

log = logging.getLogger("onshore.store")


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def make_private_dir(path: Path) -> None:
    """Create ``path`` and its missing parents as ``0700`` folders (existing ones are kept)."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue  # made by another process meanwhile: its mode is that process's business
        os.chmod(folder, DIR_MODE)


def create_private_file(path: Path) -> None:
    """Create ``path`` empty at ``0600`` unless it exists (a writer that truncates it keeps the
    mode); its folder is made owner-only as well."""
    make_private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)


def open_private_append(path: Path) -> int:
    """A descriptor to append to ``path``, created at ``0600`` if absent."""
    make_private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
    if stat.S_IMODE(os.fstat(fd).st_mode) & _OTHERS:
        os.fchmod(fd, FILE_MODE)
    return fd


def make_private(path: Path) -> None:
    """``chmod 0600`` an existing file Onshore owns (absent: nothing to do)."""
    try:
        if mode_of(path) & _OTHERS:
            os.chmod(path, FILE_MODE)
    except FileNotFoundError:
        return


def sqlite_files(database: Path) -> list[Path]:
    """A SQLite database file and its side files (WAL, shared memory, rollback journal)."""
    return [database, *(database.with_name(database.name + s) for s in SQLITE_SIDE_FILES)]


def secure_home(path: Path, database: str = "meta.db") -> None:
    """Create the home at ``0700``, or check an existing one and fix what others may read.

    An existing home that group or others may enter is set to ``0700``, and a ``database``
    inside it (with its side files) that they may read to ``0600``, with one warning; when
    that is not allowed (the home belongs to someone else) the warning says so.
    """
    if not path.exists():
        make_private_dir(path)
        return
    if not path.is_dir():
        return  # not ours to judge: opening the database there fails with a clear error
    problems: list[str] = []
    home_mode = mode_of(path)
    if home_mode & _OTHERS:
        problems.append(f"the data home {path} is mode {home_mode:04o}")
    db_files = [f for f in sqlite_files(path / database) if f.is_file()]
    loose = [f for f in db_files if mode_of(f) & _OTHERS]
    if loose:
        listed = ", ".join(f"{f.name} {mode_of(f):04o}" for f in loose)
        problems.append(f"group or others may read {listed}")
    if not problems:
        return
    try:
        os.chmod(path, DIR_MODE)
        for file in loose:
            os.chmod(file, FILE_MODE)
    except OSError as exc:
        log.warning(
            "%s; it holds personal data, the ledger and keys, and could not be made owner-only"
            " (%s): run chmod 700 %s",
            "; ".join(problems),
            exc.strerror or exc,
            path,
        )
        return
    fixed = "set the home to 0700" + (" and the database files to 0600" if loose else "")
    log.warning(
        "%s; it holds personal data, the ledger and keys: %s (owner-only)",
        "; ".join(problems),
        fixed,
    )
