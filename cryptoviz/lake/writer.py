"""Writing quote rows into the lake layout: the one place that knows file names and partitioning."""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import NamedTuple

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from cryptoviz import names
from cryptoviz.lake.compact import STAGED  # the rows a compaction cut short holds
from cryptoviz.lake.schemas import LAKE_SCHEMA, lake_columns
from cryptoviz.schema import Quote

KEYS = {  # what makes a row the same row, per lake folder
    names.LAKE_QUOTES: ("symbol", "source_ts"),
    names.LAKE_QUARANTINE: ("partition", "offset"),
}
PARTITIONS = {names.LAKE_QUOTES: names.LAKE_PARTITIONS, names.LAKE_QUARANTINE: ("date",)}
WRITE_THREADS = 4
# A micro-batch's file holds a folder's rows of one batch, a few dozen: a dictionary would not pay for
# itself, and the Arrow schema kept in the footer says nothing Parquet's own types do not (the types
# read back are LAKE_SCHEMA's, tested); each cost about 0.1 ms a file. The compaction writes with
# pyarrow's defaults.
FILE_OPTIONS: dict = {"use_dictionary": False, "store_schema": False}
MAX_INDEXED_KEYS = 2_000_000  # keys kept in memory (about 150 MB); beyond, the least recent folders go


class LakeBatch(NamedTuple):
    rows: pa.Table
    batch_id: int  # the micro-batch's id, in the names of the files it writes


class LakeWriter:
    """Rows into one lake folder (quotes or quarantine), each key at most once, whatever repeats;
    an `interfaces.Sink[LakeBatch, WriteReport]`.

    Before a partition folder (symbol=X/date=D) is first written, the keys of the rows already
    in it are read; a row whose key is there, or earlier in the same batch, is dropped. So a
    micro-batch replayed after a crash, a lost checkpoint read from the start again, a scraper
    that republished its warm-up, and rows staged by a compaction cut short (`_compacting.parquet`
    is read too) all leave each key once. Each file is written under a hidden `.tmp` name and then
    renamed: readers and the index never see half a file. File names carry a token of their write
    as well as the batch id, so neither a batch id that starts again at 0 nor a batch written again
    (the query restarted in the same process) overwrites an older file.
    One writer per folder at a time (the lake job); the index is its memory of what it wrote."""

    def __init__(self, fs: pafs.FileSystem, base: str, subdir: str) -> None:
        self.fs = fs
        self.root = f"{base}/{subdir}"
        self.keys = KEYS[subdir]
        self.partitions = PARTITIONS[subdir]
        self.index: OrderedDict[str, set] = OrderedDict()  # partition folder -> keys in it
        self.indexed_keys = 0
        self.folders: set[str] | None = None

    def write(self, batch: LakeBatch) -> WriteReport:
        """Write the rows whose key is new; the report says how many were written and dropped.
        The batch is sorted by partition once and cut into zero-copy slices where the partition
        changes (found by Arrow, not row by row); the files of the partitions are written by a few
        threads (pyarrow writes without the GIL)."""
        table, batch_id = batch
        report = WriteReport()
        if not table.num_rows:
            return report
        table = table.take(pc.sort_indices(table, [(p, "ascending") for p in self.partitions]))
        starts = _run_starts(table, self.partitions)
        heads = zip(*(table.column(p).take(starts).to_pylist() for p in self.partitions), strict=True)
        keys = _keys(table, [k for k in self.keys if k not in self.partitions])
        body = table.drop_columns(list(self.partitions))
        files: list[tuple[str, pa.Table]] = []
        token = secrets.token_hex(4)
        try:
            for start, end, values in zip(starts, [*starts[1:], table.num_rows], heads, strict=True):
                folder = "/".join(f"{p}={v}" for p, v in zip(self.partitions, values, strict=True))
                seen = self._keys_in(folder)
                keep = []
                fresh: set = set()
                for i, key in enumerate(keys[start:end]):
                    if key not in seen and key not in fresh:
                        fresh.add(key)
                        keep.append(i)
                report.dropped += end - start - len(keep)
                if not keep:
                    continue
                part = body.slice(start, end - start)
                files.append((folder, part if len(keep) == part.num_rows else part.take(keep)))
                seen |= fresh
                self.indexed_keys += len(fresh)
            # one task per thread, each a share of the files (a future per file cost more than a write)
            shares = [files[i::WRITE_THREADS] for i in range(WRITE_THREADS)]
            with ThreadPoolExecutor(max_workers=WRITE_THREADS) as pool:
                list(pool.map(lambda share: self._write_files(share, batch_id, token), shares))
        except BaseException:
            for folder, _ in files:  # their keys are in the index, not all in the lake: read again
                self.indexed_keys -= len(self.index.pop(folder, ()))
            raise
        for folder, data in files:
            report.written += data.num_rows
            report.files += 1
            report.tables.append(data)
            report.folders.append(folder)
        return report

    def _write_files(self, files: list[tuple[str, pa.Table]], batch_id: int, token: str) -> None:
        for folder, data in files:
            self._write_file(folder, data, batch_id, token)

    def _write_file(self, folder: str, data: pa.Table, batch_id: int, token: str) -> None:
        path = f"{self.root}/{folder}/batch-{batch_id:08d}-{token}.parquet"
        head, name = path.rsplit("/", 1)
        self.fs.create_dir(head, recursive=True)
        pq.write_table(data, f"{head}/.{name}.tmp", filesystem=self.fs, **FILE_OPTIONS)
        self.fs.move(f"{head}/.{name}.tmp", path)

    def _keys_in(self, folder: str) -> set:
        keys = self.index.get(folder)
        if keys is not None:
            self.index.move_to_end(folder)
            return keys
        keys = set()
        if folder in self._folders():  # a folder the lake does not have yet holds nothing to read
            own = [k for k in self.keys if k not in self.partitions]
            selector = pafs.FileSelector(f"{self.root}/{folder}", allow_not_found=True)
            for info in self.fs.get_file_info(selector):
                name = info.base_name
                if info.type != pafs.FileType.File or not name.endswith(".parquet"):
                    continue
                if name.startswith(".") or (name.startswith("_") and name != STAGED):
                    continue
                keys.update(_keys(pq.read_table(info.path, columns=own, filesystem=self.fs), own))
        else:
            self._folders().add(folder)  # about to be written
        self.index[folder] = keys
        self.indexed_keys += len(keys)
        while self.indexed_keys > MAX_INDEXED_KEYS and len(self.index) > 1:
            _, dropped = self.index.popitem(last=False)  # read again from the lake if written again
            self.indexed_keys -= len(dropped)
        return keys

    def _folders(self) -> set[str]:
        """The partition folders the lake has, listed once (this writer adds the ones it creates)."""
        if self.folders is None:
            depth = len(self.partitions)
            infos = self.fs.get_file_info(pafs.FileSelector(self.root, recursive=True, allow_not_found=True))
            self.folders = {
                rel
                for i in infos
                if i.type == pafs.FileType.Directory
                and (rel := i.path[len(self.root) + 1 :]).count("/") == depth - 1
            }
        return self.folders


def _run_starts(table: pa.Table, columns: tuple[str, ...]) -> list[int]:
    """The rows of a table sorted by `columns` where their values change (row 0 first). A null is
    a value like any other here: the sort puts the nulls of a column together."""
    n = table.num_rows
    changed = None
    for name in columns:
        col = table.column(name)
        before, after = col.slice(0, n - 1), col.slice(1)
        # different, or exactly one of the two null (not_equal is null when either is)
        step = pc.coalesce(pc.not_equal(before, after), pc.not_equal(pc.is_null(before), pc.is_null(after)))
        changed = step if changed is None else pc.or_(changed, step)
    if changed is None:
        return [0]
    return [0, *(i + 1 for i in pc.indices_nonzero(changed).to_pylist())]


def _keys(table: pa.Table, columns: list[str]) -> list[tuple]:
    """The rows' keys as tuples of plain values (timestamps as integer microseconds)."""
    cols = []
    for name in columns:
        col = table.column(name)
        if pa.types.is_timestamp(col.type):
            col = col.cast(pa.timestamp("us", tz="UTC"), safe=False).cast(pa.int64())
        cols.append(col.to_pylist())
    return list(zip(*cols, strict=True))


@dataclass
class WriteReport:
    written: int = 0
    dropped: int = 0  # already in the lake, or twice in the batch
    files: int = 0
    tables: list[pa.Table] = field(default_factory=list)  # the rows written, per file
    folders: list[str] = field(default_factory=list)  # each file's partition folder, as `tables`


def write_batch(fs: pafs.FileSystem, base: str, table: pa.Table, subdir: str, batch_id: int) -> WriteReport:
    """One batch into a lake folder, each key once (a writer of its own: tests, backfills, benches)."""
    return LakeWriter(fs, base, subdir).write(LakeBatch(table, batch_id))


def quotes_table(quotes: Iterable[Quote], partition: int = -1, first_offset: int = 0) -> pa.Table:
    """Quotes as lake rows (for backfills into a folder, benchmarks and tests)."""
    quotes = list(quotes)
    offsets = range(first_offset, first_offset + len(quotes))
    return pa.Table.from_pydict(lake_columns(quotes, [partition] * len(quotes), offsets), schema=LAKE_SCHEMA)
