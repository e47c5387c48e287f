"""Writing quote rows into the lake layout: the one place that knows file names and partitioning."""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from cryptoviz import names
from cryptoviz.lake.compact import STAGED  # the rows a compaction cut short holds
from cryptoviz.schema import FIELDS, Quote

_ARROW_TYPES = {
    int: pa.int32(),
    str: pa.string(),
    float: pa.float64(),
    datetime: pa.timestamp("us", tz="UTC"),
}
# One row of the lake: the quote's fields (cryptoviz.schema.FIELDS, the one definition the Spark
# schema is derived from too), then where it lives and where it came from. Symbol and date become
# the partition folders.
LAKE_SCHEMA = pa.schema(
    [(name, _ARROW_TYPES[typ]) for name, (typ, _) in FIELDS.items()]
    + [("date", pa.string()), ("kafka_partition", pa.int32()), ("kafka_offset", pa.int64())]
)


KEYS = {  # what makes a row the same row, per lake folder
    names.LAKE_QUOTES: ("symbol", "source_ts"),
    names.LAKE_QUARANTINE: ("partition", "offset"),
}
PARTITIONS = {names.LAKE_QUOTES: names.LAKE_PARTITIONS, names.LAKE_QUARANTINE: ("date",)}
MAX_INDEXED_PARTITIONS = 4096  # partition folders whose keys stay in memory (live: today's few)


class LakeWriter:
    """Rows into one lake folder (quotes or quarantine), each key at most once, whatever repeats.

    Before a partition folder (symbol=X/date=D) is first written, the keys of the rows already
    in it are read; a row whose key is there, or earlier in the same batch, is dropped. So a
    micro-batch replayed after a crash, a lost checkpoint read from the start again, a scraper
    that republished its warm-up, and rows staged by a compaction cut short (`_compacting.parquet`
    is read too) all leave each key once. Each file is written under a hidden `.tmp` name and then
    renamed: readers and the index never see half a file. File names carry a token of this process
    as well as the batch id, so a batch id that starts again at 0 never overwrites an older file.
    One writer per folder at a time (the lake job); the index is its memory of what it wrote."""

    def __init__(self, fs: pafs.FileSystem, base: str, subdir: str) -> None:
        self.fs = fs
        self.root = f"{base}/{subdir}"
        self.keys = KEYS[subdir]
        self.partitions = PARTITIONS[subdir]
        self.token = secrets.token_hex(4)
        self.index: OrderedDict[str, set] = OrderedDict()  # partition folder -> keys in it

    def write(self, table: pa.Table, batch_id: int) -> WriteReport:
        """Write the rows whose key is new; the report says how many were written and dropped."""
        report = WriteReport()
        if not table.num_rows:
            return report
        groups: dict[str, list[int]] = {}
        for i, values in enumerate(zip(*(table.column(p).to_pylist() for p in self.partitions), strict=True)):
            folder = "/".join(f"{p}={v}" for p, v in zip(self.partitions, values, strict=True))
            groups.setdefault(folder, []).append(i)
        own = [k for k in self.keys if k not in self.partitions]
        for folder, rows in groups.items():
            seen = self._keys_in(folder)
            part = table.take(rows)
            keys = _keys(part, own)
            keep = []
            fresh: set = set()
            for i, key in enumerate(keys):
                if key in seen or key in fresh:
                    continue
                fresh.add(key)
                keep.append(i)
            report.dropped += len(rows) - len(keep)
            if not keep:
                continue
            data = part.take(keep).drop_columns(list(self.partitions))
            path = f"{self.root}/{folder}/batch-{batch_id:08d}-{self.token}.parquet"
            tmp = path.rsplit("/", 1)
            tmp_path = f"{tmp[0]}/.{tmp[1]}.tmp"
            self.fs.create_dir(f"{self.root}/{folder}", recursive=True)
            pq.write_table(data, tmp_path, filesystem=self.fs)
            self.fs.move(tmp_path, path)
            seen |= fresh
            report.written += len(keep)
            report.files += 1
            report.tables.append(data)
        return report

    def _keys_in(self, folder: str) -> set:
        keys = self.index.get(folder)
        if keys is not None:
            self.index.move_to_end(folder)
            return keys
        keys = set()
        own = [k for k in self.keys if k not in self.partitions]
        selector = pafs.FileSelector(f"{self.root}/{folder}", allow_not_found=True)
        for info in self.fs.get_file_info(selector):
            name = info.base_name
            if info.type != pafs.FileType.File or not name.endswith(".parquet"):
                continue
            if name.startswith(".") or (name.startswith("_") and name != STAGED):
                continue
            keys.update(_keys(pq.read_table(info.path, columns=own, filesystem=self.fs), own))
        self.index[folder] = keys
        while len(self.index) > MAX_INDEXED_PARTITIONS:
            self.index.popitem(last=False)  # read again from the lake if it is written to again
        return keys


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


def write_batch(fs: pafs.FileSystem, base: str, table: pa.Table, subdir: str, batch_id: int) -> WriteReport:
    """One batch into a lake folder, each key once (a writer of its own: tests, backfills, benches)."""
    return LakeWriter(fs, base, subdir).write(table, batch_id)


def quotes_table(quotes: Iterable[Quote], partition: int = -1, first_offset: int = 0) -> pa.Table:
    """Quotes as lake rows (for backfills into a folder, benchmarks and tests)."""
    cols: dict[str, list] = {name: [] for name in LAKE_SCHEMA.names}
    for i, q in enumerate(quotes):
        for name in ("schema_version", "symbol", "name", "price_usd", "market_cap_usd", "volume_24h_usd"):
            cols[name].append(getattr(q, name))
        cols["change_24h_pct"].append(q.change_24h_pct)
        cols["source"].append(q.source)
        cols["source_ts"].append(q.source_ts)
        cols["ingest_ts"].append(q.ingest_ts)
        cols["date"].append(q.source_ts.strftime("%Y-%m-%d"))
        cols["kafka_partition"].append(partition)
        cols["kafka_offset"].append(first_offset + i)
    return pa.Table.from_pydict(cols, schema=LAKE_SCHEMA)
