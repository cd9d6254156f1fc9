"""Where a store's lake lives: a pyarrow file system and a folder in it.

A store's ``path`` is a folder of the data home (``lake``, ``stores/fra``), an absolute path, or
a URI that pyarrow opens: ``file:///srv/lake``, ``s3://bucket/lake?endpoint_override=…&region=…``
(any S3-compatible object store: MinIO, Ceph, OSS, COS, OBS), ``hdfs://namenode:8020/lake``.
A scheme of one's own (a test file system, a file system pyarrow does not know) comes in through
:func:`register_filesystem`, the same call for every scheme.

The lake never renames: a file is written once, under a unique final name, and the metadata
database's ``lake_files`` index is the commit point (see :mod:`onshore.store.lake`). So an object
store without an atomic rename (S3) gives the same guarantees as a local disk. On a local disk
the file and its folder are also fsynced before the index row is committed, and files are
owner-only (``0600`` in ``0700`` folders).

>>> import tempfile
>>> root = lake_root(tempfile.mkdtemp())
>>> root.is_local, root.exists("dataset=x/date=2026-01-01/part-1.parquet")
(True, False)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from onshore.errors import StorageError, StorageUnavailable
from onshore.private import create_private_file
from onshore.store.atomic import fsync_dir, fsync_file

Opener = Callable[[str], tuple[pafs.FileSystem, str]]
"""A URI → the file system and the folder in it (``pyarrow.fs.FileSystem.from_uri``'s shape)."""

_OPENERS: dict[str, Opener] = {}
_OPENED: dict[str, LakeRoot] = {}


def register_filesystem(scheme: str, opener: Opener) -> None:
    """Open URIs of ``scheme`` (``memory``, ``myfs``) with ``opener``; replaces an earlier one.

    >>> register_filesystem("demo-mem", lambda uri: (pafs.LocalFileSystem(), "/tmp"))
    >>> lake_root("demo-mem://x").base
    '/tmp'
    """
    _OPENERS[scheme.lower()] = opener
    _OPENED.clear()


def scheme_of(path: str) -> str | None:
    """The URI scheme of a store path (``s3``), or ``None`` for a plain path."""
    head, sep, _ = path.partition("://")
    return head.lower() if sep and head.replace("+", "").replace("-", "").isalnum() else None


@dataclass(frozen=True)
class LakeRoot:
    """A store's lake folder on a file system; paths given to it are relative, with ``/``."""

    uri: str
    fs: pafs.FileSystem
    base: str
    local: Path | None = None  # set on the local disk: fsync and owner-only modes apply

    @property
    def is_local(self) -> bool:
        return self.local is not None

    def full(self, rel: str) -> str:
        """The path of ``rel`` inside the file system."""
        if not rel or rel.startswith("/") or ".." in rel.split("/"):
            raise StorageError(f"bad lake path {rel!r}")
        return f"{self.base.rstrip('/')}/{rel}" if self.base else rel

    def show(self, rel: str) -> str:
        """``rel`` as a user reads it (a local path or the store's URI plus ``rel``)."""
        if self.local is not None:
            return str(self.local / rel)
        return f"{self.uri.split('?', 1)[0].rstrip('/')}/{rel}"

    def check(self) -> None:
        """Reach the root once (an object store's endpoint, bucket and credentials):
        :class:`StorageUnavailable` in one line when it cannot be read."""
        if self.local is not None:
            return
        try:
            self.fs.get_file_info(self.base or "/")
        except (OSError, pa.ArrowException) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            shown = redact_uri(self.uri)
            raise StorageUnavailable(f"cannot reach the lake at {shown}: {reason}") from exc

    # -- writing --------------------------------------------------------------------------------
    def parquet_writer(self, rel: str, schema: pa.Schema, **options: Any) -> pq.ParquetWriter:
        """A Parquet writer of a new file ``rel`` (owner-only on the local disk)."""
        if self.local is not None:
            create_private_file(self.local / rel)  # pyarrow truncates it and keeps the mode
        else:
            self.fs.create_dir(self.full(rel).rsplit("/", 1)[0], recursive=True)
        return pq.ParquetWriter(self.full(rel), schema, filesystem=self.fs, **options)

    def write_table(
        self, rel: str, table: pa.Table, *, row_group_size: int | None = None, **options: Any
    ) -> int:
        """Write ``table`` to the new file ``rel``, durably; returns its size in bytes."""
        writer = self.parquet_writer(rel, table.schema, **options)
        try:
            writer.write_table(table, row_group_size=row_group_size)
        finally:
            writer.close()
        return self.finish(rel)

    def finish(self, rel: str) -> int:
        """Make a closed file durable (fsync the file and its folder on the local disk);
        returns its size. The caller indexes it only after this returns."""
        if self.local is not None:
            fsync_file(self.local / rel)
            fsync_dir((self.local / rel).parent)
        return self.size(rel)

    def delete(self, rel: str) -> None:
        """Remove ``rel`` if it is there (durably on the local disk)."""
        with contextlib.suppress(FileNotFoundError):
            self.fs.delete_file(self.full(rel))
        if self.local is not None and (self.local / rel).parent.is_dir():
            fsync_dir((self.local / rel).parent)

    # -- reading --------------------------------------------------------------------------------
    def exists(self, rel: str) -> bool:
        return bool(self.fs.get_file_info(self.full(rel)).type == pafs.FileType.File)

    def size(self, rel: str) -> int:
        info = self.fs.get_file_info(self.full(rel))
        if info.type != pafs.FileType.File:
            raise FileNotFoundError(self.show(rel))
        return int(info.size or 0)

    def mtime(self, rel: str) -> float | None:
        moment = self.fs.get_file_info(self.full(rel)).mtime
        return moment.timestamp() if moment is not None else None

    def parquet_file(self, rel: str) -> pq.ParquetFile:
        return pq.ParquetFile(self.fs.open_input_file(self.full(rel)))

    def read_table(self, rel: str, columns: list[str] | None = None) -> pa.Table:
        return pq.read_table(self.full(rel), filesystem=self.fs, columns=columns)

    def read_schema(self, rel: str) -> pa.Schema:
        return self.parquet_file(rel).schema_arrow

    def parquet_files(self) -> Iterator[str]:
        """Every ``dataset=*/date=*/NAME.parquet`` under the root (hidden names skipped), sorted."""
        selector = pafs.FileSelector(self.base, recursive=True, allow_not_found=True)
        prefix = self.base.strip("/") + "/" if self.base.strip("/") else ""
        found = []
        for info in self.fs.get_file_info(selector):
            if info.type != pafs.FileType.File or not info.path.endswith(".parquet"):
                continue
            path = info.path.lstrip("/")  # some file systems list "/x/y" for "x/y"
            rel = path[len(prefix) :] if path.startswith(prefix) else path
            parts = rel.split("/")
            if (
                len(parts) == 3
                and parts[0].startswith("dataset=")
                and parts[1].startswith("date=")
                and not parts[2].startswith((".", "_"))
            ):
                found.append(rel)
        return iter(sorted(found))


def lake_root(path: str, *, home: Path | None = None) -> LakeRoot:
    """The lake folder a store's ``path`` names: a URI, or a local path (relative to ``home``).

    A URI pyarrow cannot open is a :class:`StorageError` that names the store path.
    """
    scheme = scheme_of(path)
    if scheme is None or scheme == "file":
        local = Path(path.split("://", 1)[1]) if scheme == "file" else Path(path)
        if not local.is_absolute():
            local = (home or Path.cwd()) / local
        return LakeRoot(path, pafs.LocalFileSystem(), local.as_posix(), local)
    if path in _OPENED:  # opening an object store may cost a round trip (region lookup)
        return _OPENED[path]
    try:
        opener = _OPENERS.get(scheme)
        fs, base = opener(path) if opener else pafs.FileSystem.from_uri(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        shown = redact_uri(path)
        reason = reason.replace(path, shown)
        raise StorageUnavailable(f"cannot open the lake at {shown}: {reason}") from exc
    _OPENED[path] = LakeRoot(path, fs, base.rstrip("/"))
    return _OPENED[path]


def redact_uri(uri: str) -> str:
    """A URI without credentials or query (``s3://KEY:SECRET@bucket/x?a=b`` → ``s3://***@bucket/x``).

    >>> redact_uri("s3://KEY:SECRET@bucket/lake?region=cn-north-1")
    's3://***@bucket/lake'
    """
    head, sep, rest = uri.partition("://")
    rest = rest.split("?", 1)[0]
    if sep and "@" in rest.split("/", 1)[0]:
        rest = "***@" + rest.split("@", 1)[1]
    return f"{head}{sep}{rest}"


def has_password(uri: str) -> bool:
    """Whether a URI carries a password (``scheme://user:password@host``)."""
    _, sep, rest = uri.partition("://")
    userinfo = rest.split("/", 1)[0].rpartition("@")[0]
    return bool(sep) and ":" in userinfo
