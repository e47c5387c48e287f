"""offsets_not_read: what a batch covered minus what it read, from Spark's progress."""

from __future__ import annotations

import json

from cryptoviz.lake.progress import offsets_not_read


def progress(start, end, rows: int) -> dict:
    return {
        "batchId": 3,
        "numInputRows": rows,
        "sources": [{"startOffset": json.dumps(start), "endOffset": json.dumps(end), "numInputRows": rows}],
    }


def test_a_batch_that_read_every_offset_skipped_none():
    assert offsets_not_read(progress({"0": 10, "1": 0}, {"0": 20, "1": 5}, 15)) == 0


def test_offsets_deleted_by_retention_before_the_read_are_counted():
    # partition 0 covered 100..200, but the log started at 150: 50 records read, 50 skipped
    assert offsets_not_read(progress({"0": 100}, {"0": 200}, 50)) == 50


def test_a_partition_new_since_the_last_batch_counts_from_zero():
    assert offsets_not_read(progress({"0": 5}, {"0": 5, "1": 8}, 8)) == 0


def test_progress_without_offsets_says_nothing():
    assert offsets_not_read({"batchId": 0, "sources": [{"startOffset": None, "endOffset": None}]}) == 0
    assert offsets_not_read({"batchId": 0, "sources": []}) == 0
    assert offsets_not_read({"batchId": 0}) == 0


def test_offsets_as_dicts_are_read_too():
    src = {"startOffset": {"0": 0}, "endOffset": {"0": 10}, "numInputRows": 4}
    assert offsets_not_read({"sources": [src]}) == 6
