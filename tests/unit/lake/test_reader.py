"""The lake reader: a lake whose first batch is still being written reads as empty, not an error;
rows come sorted and once; a query lists and reads only its symbols' partitions in its dates."""

from __future__ import annotations

import pyarrow.fs as pafs
import pytest

from cryptoviz import names
from cryptoviz.lake.reader import LakeReader


def test_a_partition_folder_without_parquet_reads_as_an_empty_lake(tmp_path):
    (tmp_path / names.LAKE_QUOTES / "symbol=BTC" / "date=2025-06-01").mkdir(parents=True)
    reader = LakeReader(str(tmp_path))
    assert reader.dataset() is None
    assert reader.history(["BTC"]).empty
    assert reader.latest_ts(["BTC"]) is None


def test_no_lake_folder_at_all_reads_as_an_empty_lake(tmp_path):
    reader = LakeReader(str(tmp_path / "nothing-here"))
    assert reader.history(["BTC"]).empty


def test_rows_out_of_order_or_twice_are_sorted_and_kept_once(tmp_path):
    """Two files of one partition: the second older than the first, and repeating one of its rows
    (as rows staged by a compaction cut short would, next to the files it read)."""
    from datetime import UTC, datetime, timedelta

    import pyarrow as pa

    from cryptoviz.lake.reader import strictly_ordered
    from cryptoviz.lake.writer import quotes_table
    from cryptoviz.schema import make_quote

    t0 = datetime(2025, 6, 1, 10, tzinfo=UTC)
    folder = tmp_path / names.LAKE_QUOTES / "symbol=BTC" / "date=2025-06-01"
    folder.mkdir(parents=True)
    import pyarrow.parquet as pq

    for name, hours in (("batch-1.parquet", (3, 4)), ("batch-2.parquet", (1, 2, 3))):
        rows = quotes_table([make_quote("BTC", 1.0 + h, t0 + timedelta(hours=h)) for h in hours])
        pq.write_table(rows.drop_columns(["symbol", "date"]), folder / name)
    frame = LakeReader(str(tmp_path)).history(["BTC"])
    assert [t.hour for t in frame["source_ts"]] == [11, 12, 13, 14]
    assert list(frame.index) == [0, 1, 2, 3]
    assert frame["symbol"].dtype == "category" and frame["source"].dtype == "category"
    assert list(frame["symbol"]) == ["BTC"] * 4
    ordered = pa.table({"symbol": ["A", "A", "B"], "source_ts": [1, 2, 1]})
    assert strictly_ordered(ordered)
    assert not strictly_ordered(pa.table({"symbol": ["A", "A"], "source_ts": [1, 1]})), "a key twice"
    assert not strictly_ordered(pa.table({"symbol": ["B", "A"], "source_ts": [1, 2]}))

    def dictionaries(*symbols: str) -> pa.ChunkedArray:  # a chunk per file, each its own dictionary
        return pa.chunked_array([pa.array([s]).dictionary_encode() for s in symbols])

    assert strictly_ordered(pa.table({"symbol": dictionaries("A", "B"), "source_ts": [5, 1]}))
    assert not strictly_ordered(pa.table({"symbol": dictionaries("B", "A"), "source_ts": [1, 2]}))
    assert not strictly_ordered(pa.table({"symbol": dictionaries("A", "A"), "source_ts": [1, 1]}))


def test_a_query_reads_only_its_symbols_partitions_in_its_dates(tmp_path):
    """Partitions of other symbols and dates are neither listed nor read: a file there that is not
    Parquet at all would fail the read; staged and hidden files are left out as a scan of the whole
    lake leaves them out."""
    from datetime import UTC, datetime, timedelta

    from cryptoviz.lake.writer import quotes_table, write_batch
    from cryptoviz.schema import make_quote

    t0 = datetime(2025, 6, 1, tzinfo=UTC)
    qs = [make_quote(s, 1.0, t0 + timedelta(hours=6 * h)) for h in range(12) for s in ("BTC", "ETH")]
    write_batch(pafs.LocalFileSystem(), str(tmp_path), quotes_table(qs), names.LAKE_QUOTES, 1)
    quotes = tmp_path / names.LAKE_QUOTES
    (quotes / "symbol=ETH" / "date=2025-06-02" / "broken.parquet").write_bytes(b"not parquet")
    (quotes / "symbol=BTC" / "date=2025-06-01" / "broken.parquet").write_bytes(b"not parquet")
    (quotes / "symbol=BTC" / "date=2025-06-02" / "_compacting.parquet").write_bytes(b"staged")
    (quotes / "symbol=BTC" / "date=2025-06-02" / ".batch.parquet.tmp").write_bytes(b"half")
    reader = LakeReader(str(tmp_path))
    frame = reader.history(["BTC"], t0 + timedelta(days=1), t0 + timedelta(days=2, hours=12))
    assert [(t - t0) / timedelta(hours=1) for t in frame["source_ts"]] == [24, 30, 36, 42, 48, 54]
    assert set(frame["symbol"]) == {"BTC"}
    assert reader.history(["SOL"], t0, None).empty
    # times without a zone (what a caller may pass) are taken as UTC, as the partitions' dates are
    naive = reader.history(["BTC"], datetime(2025, 6, 2), datetime(2025, 6, 3, 12))  # noqa: DTZ001
    assert naive["source_ts"].tolist() == frame["source_ts"].tolist()


def test_a_days_compacted_file_is_read_before_its_batch_files(tmp_path):
    """The open day holds its compacted file and the batches written after it: read in that order,
    the rows come out in time order, so the query needs no sort (`strictly_ordered`)."""
    from datetime import UTC, datetime, timedelta

    import pyarrow.parquet as pq

    from cryptoviz.lake.reader import strictly_ordered
    from cryptoviz.lake.writer import quotes_table
    from cryptoviz.schema import make_quote

    t0 = datetime(2025, 6, 1, 10, tzinfo=UTC)
    folder = tmp_path / names.LAKE_QUOTES / "symbol=BTC" / "date=2025-06-01"
    folder.mkdir(parents=True)

    def write(name: str, minutes: range) -> None:
        qs = [make_quote("BTC", 100.0 + m, t0 + timedelta(minutes=m)) for m in minutes]
        pq.write_table(quotes_table(qs).drop_columns(["symbol", "date"]), folder / name)

    write("compacted-2025-06-01.parquet", range(0, 30))  # the day so far, at the last pass
    write("batch-00000120-a.parquet", range(30, 31))  # then two micro-batches
    write("batch-00000121-a.parquet", range(31, 32))
    reader = LakeReader(str(tmp_path))
    data = reader.dataset(["BTC"], "2025-06-01", "2025-06-01")
    assert data is not None
    assert [p.rsplit("/", 1)[1] for p in data.files] == [
        "compacted-2025-06-01.parquet",
        "batch-00000120-a.parquet",
        "batch-00000121-a.parquet",
    ]
    table = data.to_table()
    assert strictly_ordered(table) and table.num_rows == 32


def test_a_lake_the_reader_cannot_read_reads_as_empty_and_says_why(tmp_path, caplog):
    """An error that is not a file compacted away (here every open refused, as by an S3 server
    that went down after the listing): no rows, no exception into the page, a warning."""
    from datetime import UTC, datetime

    from cryptoviz.lake.writer import quotes_table, write_batch
    from cryptoviz.schema import make_quote
    from cryptoviz.testing.watched_fs import WatchedFS

    t0 = datetime(2025, 6, 1, tzinfo=UTC)
    write_batch(
        pafs.LocalFileSystem(),
        str(tmp_path),
        quotes_table([make_quote("BTC", 1.0, t0)]),
        names.LAKE_QUOTES,
        1,
    )

    def refuse(event: str, path: str) -> None:
        if event == "open":
            raise OSError("connection refused")

    reader = LakeReader(str(tmp_path), WatchedFS(pafs.LocalFileSystem(), refuse).filesystem())
    assert reader.history(["BTC"]).empty and reader.latest_ts(["BTC"]) is None
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == ["lake_unreadable"] * 2


def test_a_file_changed_while_it_was_read_is_read_again_from_a_new_listing(tmp_path, monkeypatch):
    """A day's compacted file rewritten between the listing and the read: on S3 a move copies over
    it, and a read that took the old footer gets bytes that do not parse. The reader lists again
    and reads what is there then; a file damaged for good still fails, after READ_ATTEMPTS."""
    from datetime import UTC, datetime, timedelta

    import pyarrow as pa

    from cryptoviz.lake.writer import quotes_table, write_batch
    from cryptoviz.schema import make_quote

    t0 = datetime(2025, 6, 1, tzinfo=UTC)
    qs = [make_quote("BTC", 100.0 + h, t0 + timedelta(hours=h)) for h in range(6)]
    write_batch(pafs.LocalFileSystem(), str(tmp_path), quotes_table(qs), names.LAKE_QUOTES, 1)
    (path,) = (tmp_path / names.LAKE_QUOTES).rglob("*.parquet")
    good = path.read_bytes()
    listings = []
    files = LakeReader._files

    def listed_then_torn(self, *args):
        out = files(self, *args)
        listings.append(out)
        path.write_bytes(b"PAR1 torn" if len(listings) == 1 else good)  # the first read, torn
        return out

    monkeypatch.setattr(LakeReader, "_files", listed_then_torn)
    frame = LakeReader(str(tmp_path)).history(["BTC"])
    assert len(listings) == 2 and len(frame) == 6
    monkeypatch.setattr(LakeReader, "_files", files)
    path.write_bytes(b"damaged")
    with pytest.raises(pa.ArrowInvalid):
        LakeReader(str(tmp_path)).history(["BTC"])
