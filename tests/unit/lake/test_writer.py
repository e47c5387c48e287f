"""LakeWriter keeps each key once in a folder lake, whatever repeats: a replayed batch, a writer that
starts again at batch 0 (a lost checkpoint), repeats inside a batch, rows a compaction staged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from cryptoviz import names
from cryptoviz.lake import writer as lake_writer
from cryptoviz.lake.reader import LakeReader
from cryptoviz.lake.writer import LakeBatch, LakeWriter, quotes_table
from cryptoviz.schema import make_quote

T0 = datetime(2025, 3, 1, 22, tzinfo=UTC)


def quotes(n: int, symbols=("BTC", "ETH"), start: int = 0):
    return [
        make_quote(sym, 100.0 + i, T0 + timedelta(hours=i))
        for i in range(start, start + n)
        for sym in symbols
    ]


def lake_rows(base: str) -> list[tuple[str, datetime]]:
    data = LakeReader(base, pafs.LocalFileSystem()).dataset()
    assert data is not None
    frame = data.to_table(columns=["symbol", "source_ts"])
    return sorted(zip(frame.column("symbol").to_pylist(), frame.column("source_ts").to_pylist(), strict=True))


@pytest.fixture
def lake(tmp_path) -> tuple[pafs.FileSystem, str]:
    return pafs.LocalFileSystem(), str(tmp_path / "lake")


def test_a_batch_written_again_adds_nothing(lake):
    writer = LakeWriter(*lake, names.LAKE_QUOTES)
    first = writer.write(LakeBatch(quotes_table(quotes(5)), 0))
    again = writer.write(LakeBatch(quotes_table(quotes(5)), 0))
    assert (first.written, first.dropped) == (10, 0)
    assert (again.written, again.dropped, again.files) == (0, 10, 0)
    assert len(lake_rows(lake[1])) == 10


def test_a_new_writer_from_batch_0_keeps_the_old_rows_and_adds_only_new_keys(lake):
    LakeWriter(*lake, names.LAKE_QUOTES).write(LakeBatch(quotes_table(quotes(5)), 0))
    # a lost checkpoint: the topic is read from the start again, the batch ids start at 0 again
    report = LakeWriter(*lake, names.LAKE_QUOTES).write(LakeBatch(quotes_table(quotes(8)), 0))
    assert (report.written, report.dropped) == (6, 10)
    rows = lake_rows(lake[1])
    assert len(rows) == len(set(rows)) == 16


def test_a_batch_that_failed_part_way_lands_whole_when_written_again(lake):
    """The keys of the folders read before a failure are not taken as written: the batch replayed
    (the job's query restarted in the same process) lands every row."""
    fs, base = lake
    eth = f"{base}/{names.LAKE_QUOTES}/symbol=ETH/date=2025-03-01"
    fs.create_dir(eth)
    with fs.open_output_stream(f"{eth}/damaged.parquet") as out:
        out.write(b"not parquet")  # ETH's folder is read after BTC's, and its read fails
    writer = LakeWriter(fs, base, names.LAKE_QUOTES)
    batch = LakeBatch(quotes_table(quotes(2)), 0)
    with pytest.raises(pa.ArrowInvalid):
        writer.write(batch)
    fs.delete_file(f"{eth}/damaged.parquet")
    again = writer.write(batch)
    assert (again.written, again.dropped) == (4, 0)
    assert len(lake_rows(base)) == 4


def test_a_batch_id_written_again_with_new_rows_keeps_the_first_file(lake):
    """The query restarted in the same process writes its batch again, with rows the first attempt
    did not have (a quote refused as in the future then, in time now): a file of its own."""
    writer = LakeWriter(*lake, names.LAKE_QUOTES)
    writer.write(LakeBatch(quotes_table(quotes(1)), 7))
    again = writer.write(LakeBatch(quotes_table(quotes(2)), 7))  # its new hour in the same folders
    assert (again.written, again.dropped) == (2, 2)
    assert len(lake_rows(lake[1])) == 4


def test_repeats_inside_one_batch_land_once(lake):
    twice = quotes(3) + quotes(3)
    report = LakeWriter(*lake, names.LAKE_QUOTES).write(LakeBatch(quotes_table(twice), 7))
    assert (report.written, report.dropped) == (6, 6)
    assert len(lake_rows(lake[1])) == 6


def test_rows_a_cut_short_compaction_staged_count_as_present_and_tmp_files_do_not(lake):
    fs, base = lake
    LakeWriter(fs, base, names.LAKE_QUOTES).write(LakeBatch(quotes_table(quotes(2, ("BTC",))), 0))
    folder = f"{base}/{names.LAKE_QUOTES}/symbol=BTC/date=2025-03-01"
    (data,) = [
        i.path for i in fs.get_file_info(pafs.FileSelector(folder)) if i.base_name.startswith("batch-")
    ]
    fs.move(data, f"{folder}/{lake_writer.STAGED}")  # compaction killed after staging, before renaming
    pq.write_table(  # and a half-written file of some earlier crash
        quotes_table(quotes(2, ("BTC",), start=10)).drop_columns(["symbol", "date"]), f"{folder}/.x.tmp"
    )
    report = LakeWriter(fs, base, names.LAKE_QUOTES).write(LakeBatch(quotes_table(quotes(2, ("BTC",))), 1))
    assert (report.written, report.dropped) == (0, 2)
    late = LakeWriter(fs, base, names.LAKE_QUOTES).write(
        LakeBatch(quotes_table(quotes(2, ("BTC",), start=10)), 2)
    )
    assert late.written == 2  # what only a .tmp held is not in the lake


def test_the_quarantine_is_keyed_by_partition_and_offset(lake):
    bad = pa.table(
        {
            "key": [b"BTC", b"BTC", b"ETH"],
            "value": ["x", "x", "y"],
            "reason": ["bad_json", "bad_json", "bad_json"],
            "partition": pa.array([0, 0, 1], pa.int32()),
            "offset": pa.array([5, 6, 5], pa.int64()),
            "date": ["2025-03-01"] * 3,
        }
    )
    writer = LakeWriter(*lake, names.LAKE_QUARANTINE)
    assert writer.write(LakeBatch(bad, 0)).written == 3  # the same bytes at two offsets are two messages
    assert writer.write(LakeBatch(bad, 0)).written == 0


def test_a_partition_dropped_from_memory_is_read_back_from_the_lake(lake, monkeypatch):
    monkeypatch.setattr(lake_writer, "MAX_INDEXED_KEYS", 1)
    writer = LakeWriter(*lake, names.LAKE_QUOTES)
    writer.write(LakeBatch(quotes_table(quotes(5)), 0))  # BTC and ETH over two dates: four partitions
    assert len(writer.index) == 1
    assert writer.write(LakeBatch(quotes_table(quotes(5)), 1)).written == 0
    assert len(lake_rows(lake[1])) == 10


def test_run_starts_are_where_any_partition_value_changes_nulls_included():
    table = pa.table(
        {
            "symbol": ["BTC", "BTC", "BTC", "ETH", "ETH", None, None],
            "date": ["d1", "d1", "d2", "d2", None, None, None],
        }
    )
    assert lake_writer._run_starts(table, ("symbol", "date")) == [0, 2, 3, 4, 5]
    assert lake_writer._run_starts(table, ("symbol",)) == [0, 3, 5]
    assert lake_writer._run_starts(table.slice(0, 1), ("symbol", "date")) == [0]


def test_each_folder_gets_its_rows_in_arrival_order_and_the_lake_schema_reads_back(lake):
    fs, base = lake
    # arrival order: the folders interleave
    rows = [make_quote(sym, 100.0 + i, T0 + timedelta(hours=i)) for i in range(30) for sym in ("SOL", "BTC")]
    LakeWriter(fs, base, names.LAKE_QUOTES).write(LakeBatch(quotes_table(rows), 3))
    files = sorted(
        i.path
        for i in fs.get_file_info(pafs.FileSelector(base, recursive=True))
        if i.path.endswith(".parquet")
    )
    folders = [f.split(f"{names.LAKE_QUOTES}/")[1].rsplit("/", 1)[0] for f in files]
    assert folders == [
        f"symbol={s}/date={d}" for s in ("BTC", "SOL") for d in ("2025-03-01", "2025-03-02", "2025-03-03")
    ]
    for path in files:
        table = pq.read_table(path, filesystem=fs)
        assert table.schema == pa.schema(
            f for f in lake_writer.LAKE_SCHEMA if f.name not in ("symbol", "date")
        )
        offsets = table.column("kafka_offset").to_pylist()
        assert offsets == sorted(offsets)
    assert len(lake_rows(base)) == 60
