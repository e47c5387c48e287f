"""Compact a folder lake and die, as a SIGKILL would (no cleanup, no flush), at the Nth data file
the compaction deletes: midway through step 3 of some partition, at a point chosen, not by luck.
Only data files count: a data file is deleted only while its partition's rows are staged, whereas
the manifest is deleted after the staged file became the final one, so counting it would make
the point depend on how many files the first partitions happened to hold.

    python compact_killed.py LAKE_FOLDER N
"""

from __future__ import annotations

import os
import sys

import pyarrow.fs as pafs

from cryptoviz.lake.compact import compact


class DyingFS(pafs.LocalFileSystem):
    def __init__(self, die_at: int) -> None:
        super().__init__()
        self.die_at = die_at
        self.deleted = 0

    def delete_file(self, path: str) -> None:
        if path.rsplit("/", 1)[-1].startswith(("_", ".")):  # the manifest, leftovers: not data
            super().delete_file(path)
            return
        if self.deleted + 1 == self.die_at:
            os._exit(137)
        super().delete_file(path)
        self.deleted += 1


if __name__ == "__main__":
    compact(DyingFS(int(sys.argv[2])), sys.argv[1].rstrip("/"))
    sys.exit(3)  # fewer deletions than asked for: the caller wanted a death
