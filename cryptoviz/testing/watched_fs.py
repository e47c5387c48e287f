"""A real filesystem (a local folder, or the S3 server) with a callback at each step a writer or a
reader takes through it, so a test can look at the lake between two steps of a compaction, or run
one between a reader's listing and its read: the interleavings a race would give, on purpose."""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import pyarrow.fs as pafs

# on(event, path): "open" before a file is opened for reading; "delete", "move" and "copy" after
# the change, a move's path being its destination
Watcher = Callable[[str, str], None]


class WatchedFS(pafs.FileSystemHandler):
    """Every call goes to `inner`. With `copy_then_delete`, a move is a copy, then a delete of the
    source, with a "copy" step between them: a rename as an S3 server does it."""

    def __init__(self, inner: pafs.FileSystem, on: Watcher, copy_then_delete: bool = False) -> None:
        self.inner = inner
        self.on = on
        self.copy_then_delete = copy_then_delete

    def filesystem(self) -> pafs.FileSystem:
        return pafs.PyFileSystem(self)

    def get_type_name(self) -> str:
        return f"watched-{self.inner.type_name}"

    def normalize_path(self, path: str) -> str:
        return self.inner.normalize_path(path)

    def get_file_info(self, paths: list[str]) -> list[pafs.FileInfo]:
        return self.inner.get_file_info(paths)

    def get_file_info_selector(self, selector: pafs.FileSelector) -> list[pafs.FileInfo]:
        return self.inner.get_file_info(selector)

    def create_dir(self, path: str, recursive: bool) -> None:
        self.inner.create_dir(path, recursive=recursive)

    def delete_dir(self, path: str) -> None:
        self.inner.delete_dir(path)

    def delete_dir_contents(self, path: str, missing_dir_ok: bool = False) -> None:
        self.inner.delete_dir_contents(path, missing_dir_ok=missing_dir_ok)

    def delete_root_dir_contents(self) -> None:
        raise NotImplementedError("a test's filesystem never empties its root")

    def delete_file(self, path: str) -> None:
        self.inner.delete_file(path)
        self.on("delete", path)

    def move(self, src: str, dest: str) -> None:
        if self.copy_then_delete:
            self.inner.copy_file(src, dest)
            self.on("copy", dest)
            self.inner.delete_file(src)
        else:
            self.inner.move(src, dest)
        self.on("move", dest)

    def copy_file(self, src: str, dest: str) -> None:
        self.inner.copy_file(src, dest)
        self.on("copy", dest)

    def open_input_stream(self, path: str) -> pa.NativeFile:
        self.on("open", path)
        return self.inner.open_input_stream(path)

    def open_input_file(self, path: str) -> pa.NativeFile:
        self.on("open", path)
        return self.inner.open_input_file(path)

    def open_output_stream(self, path: str, metadata: dict[str, str] | None = None) -> pa.NativeFile:
        return self.inner.open_output_stream(path, metadata=metadata)

    def open_append_stream(self, path: str, metadata: dict[str, str] | None = None) -> pa.NativeFile:
        return self.inner.open_append_stream(path, metadata=metadata)
