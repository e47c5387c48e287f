"""The lake job's own compaction: which partitions are closed and due now, bounded per batch (pure),
and `Upkeep` over a folder lake written batch by batch as the job writes it."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pyarrow.dataset as ds
import pyarrow.fs as pafs

from cryptoviz import names
from cryptoviz.lake.compact import STAGED, is_data_file
from cryptoviz.lake.upkeep import Partition, Upkeep, backlog, closed, due
from cryptoviz.lake.writer import LakeBatch, LakeWriter, quotes_table
from cryptoviz.schema import make_quote
from cryptoviz.telemetry import Telemetry

D1, D2, D3 = date(2025, 3, 1), date(2025, 3, 2), date(2025, 3, 3)
HOUR = 3600.0


def at(day: date, hours: float = 0.0) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(hours=hours)


def part(sym: str, day: date, files: int, cut_short: bool = False) -> Partition:
    return Partition(f"symbol={sym}/date={day}", day, files, cut_short)


def test_a_day_is_closed_once_the_newest_event_time_is_the_margin_past_its_end():
    assert not closed(D1, None, HOUR), "nothing written yet: nothing is closed"
    assert not closed(D1, at(D2, 0.99), HOUR)
    assert closed(D1, at(D2, 1.0), HOUR)
    assert not closed(D2, at(D2, 23.99), 0) and closed(D2, at(D3), 0)


def test_closed_days_with_two_files_or_more_are_due_oldest_first():
    parts = [part("BTC", D2, 5), part("ETH", D1, 5), part("BTC", D1, 1), part("BTC", D3, 9)]
    got = due(parts, at(D3, 2), HOUR, 1000)
    assert [p.folder for p in got] == ["symbol=ETH/date=2025-03-01", "symbol=BTC/date=2025-03-02"]
    assert due(parts, at(D3, 0.5), HOUR, 1000) == [parts[1]], "the second day is not closed yet"


def test_the_work_of_a_call_is_bounded_by_the_files_it_merges():
    parts = [part(sym, day, 400) for day in (D1, D2) for sym in ("BTC", "ETH", "SOL")]
    newest = at(D3, 2)
    first = due(parts, newest, HOUR, 1000)
    assert [p.files for p in first] == [400, 400], "800 files fit in 1,000, a third would not"
    assert {p.day for p in first} == {D1}
    assert len(due(parts, newest, HOUR, 10)) == 1, "one partition at least, whatever its size"
    assert backlog(parts, newest, HOUR) == 6


def test_an_open_day_is_due_once_it_holds_the_open_files():
    parts = [part("BTC", D3, 59), part("ETH", D3, 60), part("SOL", D2, 3)]
    newest = at(D3, 12)  # D3 is open, D2 closed
    assert [p.folder for p in due(parts, newest, HOUR, 1000, open_files=60)] == [
        "symbol=SOL/date=2025-03-02",
        "symbol=ETH/date=2025-03-03",
    ]
    assert due(parts, newest, HOUR, 1000) == [parts[2]], "open_files 0: closed days only"
    assert backlog(parts, newest, HOUR, open_files=60) == 2
    assert due([part("BTC", D3, 1)], newest, HOUR, 1000, open_files=1) == [], "one file: nothing to merge"


def test_a_compaction_cut_short_comes_first_even_with_compaction_off():
    parts = [part("BTC", D1, 50), part("ETH", D2, 3, cut_short=True)]
    newest = at(D3, 2)
    assert [p.folder for p in due(parts, newest, HOUR, 60)] == [
        "symbol=ETH/date=2025-03-02",
        "symbol=BTC/date=2025-03-01",
    ]
    assert due(parts, newest, HOUR, 0) == [parts[1]], "off: only what was cut short is finished"


def write_days(writer: LakeWriter, upkeep: Upkeep, days: int, per_batch_s: int = 3600 * 4) -> set:
    """Quotes of BTC and ETH each hour, one micro-batch per four hours, each batch followed by the
    upkeep as the job's foreachBatch does; returns the keys written."""
    keys = set()
    start = at(D1)
    for batch_id, t in enumerate(range(0, days * 86400, per_batch_s)):
        qs = [
            make_quote(sym, 100.0 + i, start + timedelta(seconds=t + i * 3600))
            for i in range(per_batch_s // 3600)
            for sym in ("BTC", "ETH")
        ]
        keys |= {(q.symbol, q.source_ts) for q in qs}
        report = writer.write(LakeBatch(quotes_table(qs), batch_id))
        upkeep.after_batch(report.folders, max(q.source_ts for q in qs))
    return keys


def rows(base: str) -> Counter:
    table = ds.dataset(f"{base}/{names.LAKE_QUOTES}", format="parquet", partitioning="hive").to_table()
    cols = [table.column(c).to_pylist() for c in ("symbol", "source_ts")]
    return Counter(zip(*cols, strict=True))


def data_files(base: str, day: date) -> list[str]:
    sel = pafs.FileSelector(f"{base}/{names.LAKE_QUOTES}", recursive=True)
    infos = pafs.LocalFileSystem().get_file_info(sel)
    return [
        i.path
        for i in infos
        if i.type == pafs.FileType.File and f"date={day}" in i.path and is_data_file(i.base_name)
    ]


def test_the_job_compacts_closed_days_between_batches_a_bounded_share_at_a_time(tmp_path):
    fs, base = pafs.LocalFileSystem(), str(tmp_path / "lake")
    telemetry = Telemetry("spark-streaming", None)
    upkeep = Upkeep(fs, base, telemetry, after_s=HOUR, max_files=6)
    upkeep.start()
    keys = write_days(LakeWriter(fs, base, names.LAKE_QUOTES), upkeep, days=3)
    got = rows(base)
    assert set(got) == keys and set(got.values()) == {1}, "every quote once"
    # six batches a day: each closed partition holds 6 files, one partition (6 files) per call
    assert telemetry.counters["compactions"] == 4, "days 1 and 2 of both coins; day 3 is open"
    assert telemetry.counters["compacted_files"] == 4 * 6
    for day in (D1, D2):
        assert [p.rsplit("/", 1)[1] for p in data_files(base, day)] == [f"compacted-{day}.parquet"] * 2
    assert len(data_files(base, D3)) == 12
    assert telemetry.gauges["compaction_backlog"] == 0


def test_the_open_day_is_compacted_as_it_fills_and_every_quote_stays_once(tmp_path):
    fs, base = pafs.LocalFileSystem(), str(tmp_path / "lake")
    telemetry = Telemetry("spark-streaming", None)
    upkeep = Upkeep(fs, base, telemetry, after_s=HOUR, max_files=1000, open_files=4)
    upkeep.start()
    keys = write_days(LakeWriter(fs, base, names.LAKE_QUOTES), upkeep, days=1, per_batch_s=3600 * 2)
    got = rows(base)
    assert set(got) == keys and set(got.values()) == {1}, "every quote once"
    # 12 batches into the open day D1, per coin: a pass at the 4th file, then at each 4th again (its
    # compacted file and three batches): passes after batches 4, 7 and 10, then 2 batch files more
    names_now = sorted(p.rsplit("/", 1)[1] for p in data_files(base, D1))
    assert names_now.count(f"compacted-{D1}.parquet") == 2 and len(names_now) == 2 * 3
    assert telemetry.counters["compactions"] == 2 * 3
    assert telemetry.gauges["compaction_backlog"] == 0


def test_off_compacts_nothing(tmp_path):
    fs, base = pafs.LocalFileSystem(), str(tmp_path / "lake")
    telemetry = Telemetry("spark-streaming", None)
    upkeep = Upkeep(fs, base, telemetry, after_s=HOUR, max_files=0)
    upkeep.start()
    write_days(LakeWriter(fs, base, names.LAKE_QUOTES), upkeep, days=3)
    assert telemetry.counters["compactions"] == 0 and len(data_files(base, D1)) == 12


class DyingFS(pafs.LocalFileSystem):
    """Fails at the second data file a compaction deletes, and at every deletion after (as good as
    dead): that partition's rows are staged, half its files gone."""

    def __init__(self) -> None:
        super().__init__()
        self.deleted = 0

    def delete_file(self, path: str) -> None:
        if is_data_file(path.rsplit("/", 1)[1]):
            self.deleted += 1
            if self.deleted >= 2:
                raise OSError("the disk went away")
        super().delete_file(path)


def test_a_compaction_cut_short_is_finished_by_the_restarted_job_before_its_first_batch(tmp_path):
    base = str(tmp_path / "lake")
    writer = LakeWriter(pafs.LocalFileSystem(), base, names.LAKE_QUOTES)
    dying = Telemetry("spark-streaming", None)
    keys = write_days(writer, Upkeep(DyingFS(), base, dying, after_s=HOUR, max_files=6), days=2)
    assert dying.counters["errors.compaction"] >= 1, "counted, and retried at each batch"
    staged = [p for p in (tmp_path / "lake").rglob(STAGED)]
    assert len(staged) == 1, "the cut-short partition's rows are in its staged file"
    # the restarted job: a new writer and upkeep, listing the lake at start
    telemetry = Telemetry("spark-streaming", None)
    fs = pafs.LocalFileSystem()
    upkeep = Upkeep(fs, base, telemetry, after_s=HOUR, max_files=6)
    upkeep.start()
    assert not list((tmp_path / "lake").rglob(STAGED)), "finished before any batch"
    got = rows(base)
    assert set(got) == keys and set(got.values()) == {1}, "every quote once after the restart"
    # a replayed batch of the compacted day lands once, and is merged again on the next call
    again = [make_quote("BTC", 1.0, at(D1, h)) for h in (1, 2)] + [make_quote("BTC", 1.0, at(D1, 1.5))]
    report = LakeWriter(fs, base, names.LAKE_QUOTES).write(LakeBatch(quotes_table(again), 99))
    assert report.written == 1 and report.dropped == 2
    upkeep.after_batch(report.folders, at(D3))
    while upkeep.step():  # the next batches' calls: six files each at most
        pass
    assert len(data_files(base, D1)) == 2, "BTC and ETH of day 1, one file each"
    assert sum(rows(base).values()) == len(keys) + 1


class AwayFS(pafs.LocalFileSystem):
    """A store that does not answer its first listing."""

    def __init__(self) -> None:
        super().__init__()
        self.away = True

    def get_file_info(self, paths_or_selector):
        if self.away and isinstance(paths_or_selector, pafs.FileSelector):
            self.away = False
            raise OSError("connection refused")
        return super().get_file_info(paths_or_selector)


def test_a_listing_that_fails_at_start_is_counted_and_done_after_the_next_batch(tmp_path):
    base = str(tmp_path / "lake")
    write_days(
        LakeWriter(pafs.LocalFileSystem(), base, names.LAKE_QUOTES),
        Upkeep(pafs.LocalFileSystem(), base, Telemetry("spark-streaming", None), HOUR, 0),
        days=2,
    )
    (tmp_path / "lake" / names.LAKE_QUOTES / "stray.parquet").write_bytes(b"")  # not in a partition
    telemetry = Telemetry("spark-streaming", None)
    upkeep = Upkeep(AwayFS(), base, telemetry, after_s=HOUR, max_files=100)
    assert upkeep.start() == 0 and telemetry.counters["errors.compaction"] == 1
    assert upkeep.after_batch([], at(D3, 2)) == 4, "listed, then both days of both coins"
