"""Compaction: each closed day's partition (one symbol, one date) rewritten as one file, same rows.

Steps per partition, each safe to interrupt and rerun:
1. write every row of the partition's files, in time order, to `_compacting.parquet.tmp` (hidden
   from readers), and the names of those files to `_compacting.json`;
2. rename the staged file to `_compacting.parquet`: from here the rows are safe in one file;
3. delete the files the manifest names, and no other: a file written into the partition after
   step 1 (a backfill, a late batch) is not in the staged rows and stays;
4. rename `_compacting.parquet` to `compacted-<date>.parquet`, then drop the manifest.
A reader sees each row once at every step: while the staged file is there (steps 2 to 4), it reads
it in place of the files the manifest names and of the day's older compacted file
(`cryptoviz.lake.reader`), and a file deleted between its listing and its read makes it list again.
A rerun that finds `_compacting.parquet` resumes at step 3; a manifest without a staged file, or a
leftover `.tmp`, is dropped and the partition redone. Only days before `before` (default: today,
UTC) are touched by `cryptoviz lake compact`; the lake job compacts closed days itself, between its
micro-batches (`cryptoviz.lake.upkeep`), one partition at a time through `compact_partition`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from cryptoviz import logs, names

log = logs.get("lake.compact")
STAGED = "_compacting.parquet"
MANIFEST = "_compacting.json"


@dataclass
class CompactionReport:
    partitions: int = 0
    files_in: int = 0
    rows: int = 0


def compacted_name(day: str) -> str:
    """The name of a partition's compacted file, for its date (ISO)."""
    return f"compacted-{day}.parquet"


def is_data_file(name: str) -> bool:
    """A file of rows a partition holds (not the manifest, the staged file or a hidden `.tmp`)."""
    return not name.startswith(("_", "."))


def _partitions(fs: pafs.FileSystem, quotes: str) -> dict[str, list[pafs.FileInfo]]:
    """partition folder -> the files in it (data and staged ones)."""
    out: dict[str, list[pafs.FileInfo]] = {}
    for info in fs.get_file_info(pafs.FileSelector(quotes, recursive=True, allow_not_found=True)):
        if info.type == pafs.FileType.File:
            out.setdefault(info.path.rsplit("/", 1)[0], []).append(info)
    return out


def partition_files(fs: pafs.FileSystem, folder: str) -> list[pafs.FileInfo]:
    """The files of one partition folder (data and staged ones); one listing."""
    selector = pafs.FileSelector(folder, allow_not_found=True)
    return [i for i in fs.get_file_info(selector) if i.type == pafs.FileType.File]


def _strings(table: pa.Table) -> list[str]:
    """The columns to dictionary-encode: the strings (a few values over a day of rows). Numbers are
    written plain: a price or a time rarely repeats, and a dictionary page that overflows only to
    fall back to plain makes a compacted month a third bigger and slower to read."""
    return [f.name for f in table.schema if pa.types.is_string(f.type)]


def compact_partition(fs: pafs.FileSystem, folder: str, files: list[pafs.FileInfo]) -> CompactionReport:
    """Steps 1-4 for one partition folder holding `files`; a partition of one data file and nothing
    staged is left as it is (an empty report)."""
    report = CompactionReport()
    day = folder.rsplit("date=", 1)[-1]
    by_name = {f.base_name: f for f in files}
    data = [f.path for f in files if is_data_file(f.base_name)]
    staged, manifest = f"{folder}/{STAGED}", f"{folder}/{MANIFEST}"
    final = f"{folder}/{compacted_name(day)}"
    if STAGED not in by_name:
        for leftover in (STAGED + ".tmp", MANIFEST, MANIFEST + ".tmp"):
            if leftover in by_name:
                fs.delete_file(f"{folder}/{leftover}")
        if len(data) <= 1:
            return report
        table = ds.dataset(data, filesystem=fs, format="parquet").to_table()
        if "source_ts" in table.column_names:  # in time order: what the reader reads fastest
            table = table.sort_by("source_ts")
        pq.write_table(table, staged + ".tmp", filesystem=fs, use_dictionary=_strings(table))
        with fs.open_output_stream(manifest + ".tmp") as out:
            out.write(json.dumps(sorted(p.rsplit("/", 1)[1] for p in data)).encode())
        fs.move(manifest + ".tmp", manifest)
        fs.move(staged + ".tmp", staged)
        report.rows += table.num_rows
    else:
        log.info("resuming_compaction", partition=folder)
        if MANIFEST in by_name:
            with fs.open_input_stream(manifest) as src:
                listed = set(json.loads(src.read()))
            data = [p for p in data if p.rsplit("/", 1)[1] in listed]
        else:  # staged by a version that kept no manifest: it staged every file there was
            log.warning("resuming_without_manifest", partition=folder)
    for path in data:
        if path != final:
            fs.delete_file(path)
    fs.move(staged, final)
    if fs.get_file_info(manifest).type == pafs.FileType.File:
        fs.delete_file(manifest)
    report.partitions += 1
    report.files_in += len(data)
    return report


def compact(fs: pafs.FileSystem, base: str, before: date | None = None) -> CompactionReport:
    cutoff = (before or datetime.now(UTC).date()).isoformat()
    report = CompactionReport()
    for folder, files in sorted(_partitions(fs, f"{base}/{names.LAKE_QUOTES}").items()):
        if "date=" not in folder or folder.rsplit("date=", 1)[-1] >= cutoff:
            continue
        done = compact_partition(fs, folder, files)
        report.partitions += done.partitions
        report.files_in += done.files_in
        report.rows += done.rows
    log.info(
        "compacted", partitions=report.partitions, files=report.files_in, rows=report.rows, before=cutoff
    )
    return report
