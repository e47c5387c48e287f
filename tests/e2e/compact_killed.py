"""Compact a folder lake and die, as a SIGKILL would (no cleanup, no flush), midway through step 3 of
the first partition that has two data files or more: its rows staged, its first file deleted, at the
deletion of its second. A point chosen, not left to luck: how many files a partition holds depends
on how the job's batches fell, so the caller first waits for such a partition. Only data files
count: the manifest is deleted after the staged file became the final one.

    python compact_killed.py LAKE_FOLDER
"""

from __future__ import annotations

import os
import sys
from collections import Counter

import pyarrow.fs as pafs

from cryptoviz.lake.compact import compact, is_data_file


class DyingFS(pafs.LocalFileSystem):
    def __init__(self) -> None:
        super().__init__()
        self.deleted: Counter[str] = Counter()  # partition folder -> data files deleted

    def delete_file(self, path: str) -> None:
        folder, name = path.rsplit("/", 1)
        if is_data_file(name):
            if self.deleted[folder]:
                os._exit(137)
            self.deleted[folder] += 1
        super().delete_file(path)


if __name__ == "__main__":
    fs = DyingFS()
    report = compact(fs, sys.argv[1].rstrip("/"))
    # no partition had two data files: the caller wanted a death; say what there was
    print(f"compacted whole, never died: {report}; data files deleted: {dict(fs.deleted)}", file=sys.stderr)
    sys.exit(3)
