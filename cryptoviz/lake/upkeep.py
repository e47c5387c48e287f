"""The lake keeps itself fast: the lake job compacts its days itself, between its micro-batches.

The job is the lake's only writer, and its foreachBatch function calls `Upkeep.after_batch` once the
batch's files are written: in the same thread, so no compaction ever races a write. Each call does a
bounded share of the work (`due`: at most `max_files` files merged, at least one partition), so a
backlog of days is worked off over several batches and a batch's latency stays bounded.

A day is closed once the newest event time the job has written is `after_s` past the day's end; a
closed day of two files or more is compacted into one. A day still open is compacted too once it
holds `open_files` data files (its batch files, and the compacted file of its last pass): a query of
today then reads at most that many files however long the day has run, and each pass rewrites the
day so far (at one quote per coin per second, 86,400 rows per coin at most).
The job itself takes quotes of any age (history replayed days late is as welcome as a live tick), so
no margin can promise that nothing more comes for a day; it need not: a row that lands in a
compacted day is a new file beside `compacted-<date>.parquet`, the writer keeps its key once against
that file, and the next pass merges the two. The margin only keeps the job from compacting a day the
live path still writes into: live quotes trail their event time by a poll interval at most (300 s on
CoinGecko's demo plan) plus a trigger, and a quote dated past the clock is refused after
`MAX_FUTURE_S`, so the newest event time cannot run ahead of the live path.

Each partition goes through `compact.compact_partition`'s crash-safe steps. A compaction cut short
(a staged file left in its folder, its rows hidden from readers until it is finished) comes first
at the next call, whatever the settings, and the job makes one call at start, before its first
batch: a killed job finishes what it staged as soon as it is back.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pyarrow.fs as pafs

from cryptoviz import logs, names
from cryptoviz.lake.compact import MANIFEST, STAGED, compact_partition, is_data_file, partition_files
from cryptoviz.telemetry import Telemetry

log = logs.get("lake.upkeep")


@dataclass(frozen=True)
class Partition:
    folder: str  # symbol=<SYM>/date=<YYYY-MM-DD>, under the lake's quotes folder
    day: date
    files: int  # data files in it
    cut_short: bool = False  # a compaction left its staged file or manifest there


def closed(day: date, newest: datetime | None, after_s: float) -> bool:
    """Whether `day` is closed: the newest event time written is `after_s` past the day's end."""
    if newest is None:
        return False
    end = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
    return newest >= end + timedelta(seconds=after_s)


def ready(p: Partition, newest: datetime | None, after_s: float, open_files: int) -> bool:
    """Whether a partition is to be compacted (a compaction cut short aside): a closed day of two
    data files or more, or an open one of `open_files` or more (0: open days never)."""
    if closed(p.day, newest, after_s):
        return p.files >= 2
    return open_files > 0 and p.files >= max(open_files, 2)


def due(
    partitions: Iterable[Partition],
    newest: datetime | None,
    after_s: float,
    max_files: int,
    open_files: int = 0,
) -> list[Partition]:
    """The partitions to compact now, in order: every compaction cut short first (finishing one
    costs little and shows its rows to readers again), then those `ready`, oldest first, as long as
    their files add up to at most `max_files`; the first one is taken whatever its size, so a day
    bigger than the budget is done too. `max_files` 0: none but those cut short (compaction off)."""
    every = list(partitions)
    out = sorted((p for p in every if p.cut_short), key=lambda p: (p.day, p.folder))
    if max_files <= 0:
        return out
    spent = sum(p.files for p in out)
    todo = [p for p in every if not p.cut_short and ready(p, newest, after_s, open_files)]
    for p in sorted(todo, key=lambda p: (p.day, p.folder)):
        if out and spent + p.files > max_files:
            break
        out.append(p)
        spent += p.files
    return out


def backlog(
    partitions: Iterable[Partition], newest: datetime | None, after_s: float, open_files: int = 0
) -> int:
    """Partitions `ready` to be compacted, or with a compaction cut short."""
    return sum(1 for p in partitions if p.cut_short or ready(p, newest, after_s, open_files))


def day_of(folder: str) -> date | None:
    try:
        return date.fromisoformat(folder.rsplit("date=", 1)[1])
    except (IndexError, ValueError):
        return None


class Upkeep:
    """What the lake job knows of its partitions (listed once at start, then kept up to date from
    what it writes) and the compaction it does between batches."""

    def __init__(
        self,
        fs: pafs.FileSystem,
        base: str,
        telemetry: Telemetry,
        after_s: float,
        max_files: int,
        open_files: int = 0,
    ) -> None:
        self.fs = fs
        self.root = f"{base}/{names.LAKE_QUOTES}"
        self.telemetry = telemetry
        self.after_s = after_s
        self.max_files = max_files
        self.open_files = open_files
        self.partitions: dict[str, Partition] = {}
        self.newest: datetime | None = None
        self.scanned = False

    def scan(self) -> None:
        """One listing of the lake: each partition's data files, the compactions cut short, and the
        newest day as the newest event time (its first instant: what is known without reading)."""
        found: dict[str, list[str]] = {}
        selector = pafs.FileSelector(self.root, recursive=True, allow_not_found=True)
        for info in self.fs.get_file_info(selector):
            rel = info.path[len(self.root) + 1 :]
            if info.type == pafs.FileType.File and "/" in rel:
                folder, name = rel.rsplit("/", 1)
                found.setdefault(folder, []).append(name)
        self.scanned = True
        for folder, files in found.items():
            day = day_of(folder)
            if day is None:
                continue
            data = sum(1 for name in files if is_data_file(name))
            cut_short = any(name in (STAGED, MANIFEST) for name in files)
            self.partitions[folder] = Partition(folder, day, data, cut_short)
            self._saw(datetime(day.year, day.month, day.day, tzinfo=UTC))

    def wrote(self, folders: Iterable[str], newest: datetime | None) -> None:
        """A batch wrote a file into each of `folders`; `newest` is its newest event time."""
        for folder in folders:
            p = self.partitions.get(folder)
            if p is not None:
                self.partitions[folder] = Partition(folder, p.day, p.files + 1, p.cut_short)
            elif (day := day_of(folder)) is not None:
                self.partitions[folder] = Partition(folder, day, 1)
        if newest is not None:
            self._saw(newest)

    def _saw(self, ts: datetime) -> None:
        if self.newest is None or ts > self.newest:
            self.newest = ts

    def step(self) -> int:
        """Compact what is due now; the number of partitions compacted. A failure is logged and
        counted, never raised: the batch is in the lake already, and the partition is taken up again
        (resumed from its staged file if it got that far) at the next call."""
        t0 = time.perf_counter()
        done = 0
        t = self.telemetry
        for p in due(self.partitions.values(), self.newest, self.after_s, self.max_files, self.open_files):
            folder = f"{self.root}/{p.folder}"
            try:
                report = compact_partition(self.fs, folder, partition_files(self.fs, folder))
            except Exception as exc:  # S3 or disk trouble: counted, retried at the next batch
                t.incr("errors.compaction")
                log.error("compaction_failed", partition=p.folder, error=f"{type(exc).__name__}: {exc}")
                self.partitions[p.folder] = Partition(p.folder, p.day, p.files, True)
                break
            self.partitions[p.folder] = Partition(p.folder, p.day, 1)  # compacted, or one file already
            if report.partitions:
                done += 1
                t.incr("compactions")
                t.incr("compacted_files", report.files_in)
                t.incr("compacted_rows", report.rows)
                log.info("compacted", partition=p.folder, files=report.files_in, rows=report.rows)
        t.gauge(
            "compaction_backlog",
            backlog(self.partitions.values(), self.newest, self.after_s, self.open_files),
        )
        if done:
            elapsed = time.perf_counter() - t0
            t.observe("lake_compaction", elapsed)
            t.gauge("last_compaction_s", round(elapsed, 3))
        return done

    def start(self) -> int:
        """At the job's start, before its first batch: list the lake, then one step."""
        return self._scanned() and self.step()

    def after_batch(self, folders: Iterable[str], newest: datetime | None) -> int:
        self.wrote(folders, newest)
        return self._scanned() and self.step()

    def _scanned(self) -> bool:
        """Whether the lake has been listed, listing it if not: a listing that fails (the S3 store
        away at start) is counted and tried again after the next batch; nothing is compacted before."""
        if not self.scanned:
            try:
                self.scan()
            except Exception as exc:  # S3 or disk trouble: counted, tried again at the next batch
                self.telemetry.incr("errors.compaction")
                log.error("lake_listing_failed", error=f"{type(exc).__name__}: {exc}")
        return self.scanned
