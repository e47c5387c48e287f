"""The lake reader on a lake whose first batch is still being written: empty, not an error."""

from __future__ import annotations

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
