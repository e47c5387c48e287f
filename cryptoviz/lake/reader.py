"""The lake reader the dashboard and the backtest use: symbols over a time range, partition-pruned."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import groupby
from typing import TypeVar

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from cryptoviz import logs, names
from cryptoviz.lake.compact import MANIFEST, STAGED, compacted_name, is_data_file
from cryptoviz.lake.storage import filesystem

log = logs.get("lake.reader")
_T = TypeVar("_T")

COLUMNS = ["symbol", "source_ts", "price_usd", "volume_24h_usd", "market_cap_usd", "change_24h_pct", "source"]


def strictly_ordered(table: pa.Table) -> bool:
    """Whether the rows' (symbol, source_ts) strictly increase: sorted and each key once. The scan
    gives the partitions in path order (symbol, then date) and a partition's files in name order,
    whose rows the job and the compaction keep in time order, so this is the usual case, and one
    vectorized pass over the two columns (a few ms for a month of seconds) spares a sort and a
    deduplication of the whole frame (over a second)."""
    n = table.num_rows
    if n < 2:
        return True
    sym, ts = table.column("symbol"), table.column("source_ts")
    if sym.null_count or ts.null_count:
        return False
    sym = _ranks(sym)
    s0, s1, t0, t1 = sym.slice(0, n - 1), sym.slice(1), ts.slice(0, n - 1), ts.slice(1)
    step = pc.or_(pc.less(s0, s1), pc.and_(pc.equal(s0, s1), pc.less(t0, t1)))
    return bool(pc.all(step).as_py())


# The string columns come back as dictionaries (pandas categoricals): a coin's month at one quote a
# second is 2.6M rows of one symbol and a source or two, and as Python strings they cost more to
# read and convert than every number column together.
_FORMAT = ds.ParquetFileFormat(read_options=ds.ParquetReadOptions(dictionary_columns={"source"}))
_PARTITIONING = ds.HivePartitioning.discover(infer_dictionary=True)


def _ranks(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A dictionary column as each value's rank among its values: what compares like the strings,
    without decoding a string per row (comparing the dictionary column itself decodes it, on every
    comparison). Any other column as it is."""
    if not pa.types.is_dictionary(column.type):
        return column
    unified = pa.table({"c": column}).unify_dictionaries().column("c")
    if unified.num_chunks == 0:
        return column
    rank = pc.rank(unified.chunk(0).dictionary, sort_keys="ascending", tiebreaker="dense")
    return pa.chunked_array([pc.take(rank, c.indices) for c in unified.chunks], type=rank.type)


def _day(path: str) -> str:
    """The date of the partition a data file is in."""
    return path.rsplit("/date=", 1)[-1].split("/", 1)[0]


def _written_order(path: str) -> tuple[str, bool, str]:
    folder, name = path.rsplit("/", 1)
    return folder, not name.startswith(("compacted-", STAGED)), name


# how often a read lists the lake again when a file it listed was gone by the time it read it (a
# compaction, which renames and deletes files as it goes, ran in between)
READ_ATTEMPTS = 5


def _vanished(exc: OSError) -> bool:
    """Whether a read failed on a listed file that is no longer there: FileNotFoundError from a
    folder; an S3 server's GetObject answers as a plain OSError, naming its error code."""
    text = str(exc)
    return isinstance(exc, FileNotFoundError) or any(
        code in text for code in ("NOT_FOUND", "NoSuchKey", "No such file")
    )


def _utc(t: datetime | None) -> datetime | None:
    """A time in UTC; one without a zone is taken as UTC, as the partitions' dates are."""
    if t is None:
        return None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


class LakeReader:
    def __init__(self, lake_url: str, fs: pafs.FileSystem | None = None) -> None:
        if fs is None:
            fs, base = filesystem(lake_url)
        else:
            base = lake_url
        self.fs = fs
        self.path = f"{base}/{names.LAKE_QUOTES}"

    def dataset(
        self, symbols: list[str] | None = None, first: str | None = None, last: str | None = None
    ) -> ds.Dataset | None:
        """The lake's quotes, or those of `symbols` in partitions dated first..last (ISO dates,
        inclusive, either open), listed folder by folder: the whole lake is not listed for a query
        of some symbols, nor is each of its files tested against the query (the open day alone
        holds a file per micro-batch per coin, some 20,000 by its end). A dataset is a listing: a
        compaction may delete its files before they are read; `rows` and `history` list again."""
        try:
            if self.fs.get_file_info(self.path).type == pafs.FileType.NotFound:
                return None
            files = self._files(symbols, first, last)
            if not files:
                return None
            data = ds.dataset(
                files,
                filesystem=self.fs,
                format=_FORMAT,
                partitioning=_PARTITIONING,
                partition_base_dir=self.path,
            )
        except OSError as exc:
            if _vanished(exc):  # a file listed, then compacted away: the caller lists again
                raise
            # the S3 server down, a file it will not give: the page shows no lake, the log says why
            log.warning("lake_unreadable", path=self.path, error=str(exc).split("\n", 1)[0])
            return None
        # a folder whose first batch is still being written holds no Parquet file yet: no columns
        return data if "symbol" in data.schema.names else None

    def _files(self, symbols: list[str] | None, first: str | None, last: str | None) -> list[str]:
        """The data files to read of the symbols' (all symbols') partitions dated first..last, in
        time order as written: by symbol, then date, then a day's compacted file before its batch
        files (which came after it), then name; one listing of each symbol's folder (of the lake,
        for every symbol), and a read of a compaction's manifest where one is under way."""
        folders = (
            [self.path] if symbols is None else [f"{self.path}/symbol={s}" for s in sorted(set(symbols))]
        )
        partitions: dict[str, list[str]] = {}
        for folder in folders:
            for info in self.fs.get_file_info(
                pafs.FileSelector(folder, recursive=True, allow_not_found=True)
            ):
                parent, name = info.path.rsplit("/", 1)
                day = parent.rsplit("/date=", 1)[-1]
                if info.type != pafs.FileType.File or "/date=" not in parent:
                    continue
                if (first is None or day >= first) and (last is None or day <= last):
                    partitions.setdefault(parent, []).append(name)
        out = [
            f"{parent}/{name}"
            for parent, found in partitions.items()
            for name in self._readable(parent, found)
        ]
        return sorted(out, key=_written_order)

    def _readable(self, folder: str, found: list[str]) -> list[str]:
        """Of the files `found` in a partition folder, those holding its rows once each: its data
        files; while a compaction's staged file is there (`lake.compact`), the staged file in place
        of the files its manifest names and of the day's compacted file (the older one, or on S3,
        where a rename is a copy and a delete, the new one's copy)."""
        data = [name for name in found if is_data_file(name)]
        if STAGED not in found or MANIFEST not in found:
            return data
        with self.fs.open_input_stream(f"{folder}/{MANIFEST}") as src:
            replaced = set(json.loads(src.read()))
        replaced.add(compacted_name(folder.rsplit("/date=", 1)[-1]))
        return [STAGED, *(name for name in data if name not in replaced)]

    def rows(
        self,
        columns: list[str],
        symbols: list[str] | None = None,
        first: str | None = None,
        last: str | None = None,
    ) -> pa.Table | None:
        """The `columns` of every row in the lake (of `symbols`, dated first..last), as stored: each
        row as often as the lake holds it; None for an empty lake."""
        return self._listed_read(lambda: self._read(columns, symbols, first, last))

    def _read(
        self, columns: list[str], symbols: list[str] | None, first: str | None, last: str | None
    ) -> pa.Table | None:
        data = self.dataset(symbols, first, last)
        return None if data is None else data.to_table(columns=columns)

    def _listed_read(self, read: Callable[[], _T]) -> _T:
        """`read` (a listing and the read of what it listed), run again from its listing when a file
        it listed is gone by the time it is read, or changed while it was read (a day's compacted
        file rewritten: on S3 a move copies over it, and a read that took its footer before gets
        the new file's bytes after, which do not parse); READ_ATTEMPTS in all."""
        attempt = 1
        while True:
            try:
                return read()
            except (OSError, pa.ArrowInvalid) as exc:
                changed = isinstance(exc, pa.ArrowInvalid)
                if attempt == READ_ATTEMPTS or not (changed or _vanished(exc)):
                    raise
                what = "lake_file_changed" if changed else "lake_file_vanished"
                log.info(what, attempt=attempt, error=str(exc).split("\n", 1)[0])
                attempt += 1

    def history(
        self, symbols: list[str], start: datetime | None = None, end: datetime | None = None
    ) -> pd.DataFrame:
        """Rows of `symbols` with start <= source_ts < end, sorted, duplicates of (symbol, ts) removed;
        `symbol` and `source` are categoricals."""
        # partitions are UTC dates (a row's is its event time's)
        start, end = (_utc(t) for t in (start, end))
        first = start.strftime("%Y-%m-%d") if start is not None else None
        # source_ts < end: a query that ends at midnight takes nothing of that day's partition
        last = (end - timedelta(microseconds=1)).strftime("%Y-%m-%d") if end is not None else None
        table = self._listed_read(lambda: self._scan(symbols, start, end, first, last))
        if table is None:
            return pd.DataFrame(columns=COLUMNS)
        # a block per column: consolidating the float columns into one would copy them all
        frame = table.to_pandas(split_blocks=True)
        if frame.empty:
            return pd.DataFrame(columns=COLUMNS)
        if strictly_ordered(table):  # already sorted, each key once, indexed 0..n-1: no copy
            return frame
        frame = frame.drop_duplicates(["symbol", "source_ts"]).sort_values(["symbol", "source_ts"])
        return frame.reset_index(drop=True)

    def _scan(
        self,
        symbols: list[str],
        start: datetime | None,
        end: datetime | None,
        first: str | None,
        last: str | None,
    ) -> pa.Table | None:
        """The rows of `symbols` with start <= source_ts < end, in written order. Only the first and
        the last day's partitions are filtered row by row: a row's partition is its event time's
        date, so a day between them lies wholly inside the range, and a filter costs a comparison
        and a copy of every row (bench/lake_month.py)."""
        data = self.dataset(symbols, first, last)
        if data is None:
            return None
        edge = ds.scalar(True)
        if start is not None:
            edge &= ds.field("source_ts") >= pd.Timestamp(start)
        if end is not None:
            edge &= ds.field("source_ts") < pd.Timestamp(end)
        tables = []
        for filtered, files in groupby(data.files, key=lambda f: _day(f) in (first, last)):
            part = ds.dataset(
                list(files),
                schema=data.schema,
                filesystem=self.fs,
                format=_FORMAT,
                partitioning=_PARTITIONING,
                partition_base_dir=self.path,
            )
            tables.append(part.to_table(columns=COLUMNS, filter=edge if filtered else None))
        return pa.concat_tables(tables)

    def latest_ts(self, symbols: list[str]) -> datetime | None:
        table = self.rows(["source_ts"], symbols)
        if table is None or not table.num_rows:
            return None
        return pc.max(table.column("source_ts")).as_py()
