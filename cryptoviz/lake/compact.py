"""Compaction: each closed day's partition (one symbol, one date) rewritten as one file, same rows.

Steps per partition, each safe to interrupt and rerun:
1. write every row of the partition's files to `_compacting.parquet.tmp` (hidden from readers);
2. rename it to `_compacting.parquet`: from here the rows are safe in one file;
3. delete the files that were read;
4. rename `_compacting.parquet` to `compacted-<date>.parquet`.
A rerun that finds `_compacting.parquet` resumes at step 3; a leftover `.tmp` is dropped and redone.
Only days before `before` (default: today, UTC) are touched; the job writes only to open days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from cryptoviz import logs, names

log = logs.get("lake.compact")
STAGED = "_compacting.parquet"


@dataclass
class CompactionReport:
    partitions: int = 0
    files_in: int = 0
    rows: int = 0


def _partitions(fs: pafs.FileSystem, quotes: str) -> dict[str, list[pafs.FileInfo]]:
    """partition folder -> the files in it (data and staged ones)."""
    out: dict[str, list[pafs.FileInfo]] = {}
    for info in fs.get_file_info(pafs.FileSelector(quotes, recursive=True, allow_not_found=True)):
        if info.type == pafs.FileType.File:
            out.setdefault(info.path.rsplit("/", 1)[0], []).append(info)
    return out


def compact(fs: pafs.FileSystem, base: str, before: date | None = None) -> CompactionReport:
    cutoff = (before or datetime.now(UTC).date()).isoformat()
    report = CompactionReport()
    for folder, files in sorted(_partitions(fs, f"{base}/{names.LAKE_QUOTES}").items()):
        day = folder.rsplit("date=", 1)[-1]
        if "date=" not in folder or day >= cutoff:
            continue
        by_name = {f.base_name: f for f in files}
        data = [f.path for f in files if not f.base_name.startswith(("_", "."))]
        staged = f"{folder}/{STAGED}"
        final = f"{folder}/compacted-{day}.parquet"
        if STAGED not in by_name:
            if len(data) <= 1:
                continue
            if STAGED + ".tmp" in by_name:
                fs.delete_file(staged + ".tmp")
            table = ds.dataset(data, filesystem=fs, format="parquet").to_table()
            pq.write_table(table, staged + ".tmp", filesystem=fs)
            fs.move(staged + ".tmp", staged)
            report.rows += table.num_rows
        else:
            log.info("resuming_compaction", partition=folder)
        for path in data:
            if path != final:
                fs.delete_file(path)
        fs.move(staged, final)
        report.partitions += 1
        report.files_in += len(data)
    log.info(
        "compacted", partitions=report.partitions, files=report.files_in, rows=report.rows, before=cutoff
    )
    return report
