"""File systems for the lake tests: a real file system (the local disk under a folder, or an
in-memory fsspec one) seen through a pyarrow handler that has no rename, as S3 has none.

Every call goes to the wrapped file system except ``move``, which raises: a test that passes
through this wrapper shows the lake never needed a rename.
"""

from __future__ import annotations

from typing import Any

import pyarrow.fs as pafs


class NoRenameHandler(pafs.FileSystemHandler):  # type: ignore[misc]
    """A pyarrow file system handler over ``inner`` whose ``move`` fails like an object store."""

    def __init__(self, inner: pafs.FileSystem) -> None:
        self.inner = inner
        self.moves = 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NoRenameHandler) and other.inner is self.inner

    def __ne__(self, other: object) -> bool:
        return not self == other

    def get_type_name(self) -> str:
        return "norename"

    def normalize_path(self, path: str) -> str:
        return path

    def get_file_info(self, paths: list[str]) -> list[pafs.FileInfo]:
        return self.inner.get_file_info(paths)  # type: ignore[no-any-return]

    def get_file_info_selector(self, selector: pafs.FileSelector) -> list[pafs.FileInfo]:
        return self.inner.get_file_info(selector)  # type: ignore[no-any-return]

    def create_dir(self, path: str, recursive: bool) -> None:
        self.inner.create_dir(path, recursive=recursive)

    def delete_dir(self, path: str) -> None:
        self.inner.delete_dir(path)

    def delete_dir_contents(self, path: str, missing_dir_ok: bool = False) -> None:
        self.inner.delete_dir_contents(path, missing_dir_ok=missing_dir_ok)

    def delete_root_dir_contents(self) -> None:
        self.inner.delete_dir_contents("", accept_root_dir=True)

    def delete_file(self, path: str) -> None:
        self.inner.delete_file(path)

    def move(self, src: str, dest: str) -> None:
        self.moves += 1
        raise OSError(f"this file system has no rename ({src} -> {dest})")

    def copy_file(self, src: str, dest: str) -> None:
        self.inner.copy_file(src, dest)

    def open_input_stream(self, path: str) -> Any:
        return self.inner.open_input_stream(path)

    def open_input_file(self, path: str) -> Any:
        return self.inner.open_input_file(path)

    def open_output_stream(self, path: str, metadata: Any) -> Any:
        return self.inner.open_output_stream(path, metadata=metadata)

    def open_append_stream(self, path: str, metadata: Any) -> Any:
        return self.inner.open_append_stream(path, metadata=metadata)


def no_rename(inner: pafs.FileSystem) -> tuple[pafs.PyFileSystem, NoRenameHandler]:
    handler = NoRenameHandler(inner)
    return pafs.PyFileSystem(handler), handler
