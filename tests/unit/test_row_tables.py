"""A table's rows taken one by one (what a reader falls back to when a row breaks its layout):
each row whole, a tail shorter than a row kept as one value for the decode to refuse."""

from __future__ import annotations

from cryptoviz import row_tables


def test_rows_are_the_tables_slices_of_one_size_and_a_short_tail_is_kept():
    assert row_tables.rows(b"aabbcc", 2) == [b"aa", b"bb", b"cc"]
    assert row_tables.rows(b"aabbc", 2) == [b"aa", b"bb", b"c"]
    assert row_tables.rows(b"", 2) == []
