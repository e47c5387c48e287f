"""The lake's Python side of validation (`judge`): the rows the column expressions did not accept,
through the contract's own validator, into lake rows or quarantine rows with the reason."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pyarrow as pa

from cryptoviz.lake.validation import judge
from cryptoviz.lake.writer import LAKE_SCHEMA, QUARANTINE_SCHEMA
from cryptoviz.schema import decode
from cryptoviz.testing.malformed import good_quote, malformed

DAY = "2026-11-26"


def rest_of(values: list[tuple[bytes | None, str | None, bool]]) -> pa.Table:
    """Rows as job.batch_rows gives them for messages the expressions did not accept."""
    n = len(values)
    return pa.table(
        {
            "key": [k.decode() if k is not None else None for k, _, _ in values],
            "value": [v for _, v, _ in values],
            "value_utf8": [u for _, _, u in values],
            "kafka_partition": pa.array([2] * n, pa.int32()),
            "kafka_offset": pa.array(range(100, 100 + n), pa.int64()),
            "received_date": [DAY] * n,
        }
    )


def test_each_malformed_message_is_quarantined_with_the_contracts_reason():
    cases = malformed(datetime(2025, 1, 2, tzinfo=UTC))
    rows = []
    for key, value, _ in cases:
        try:
            rows.append((key, value.decode("utf-8"), True))
        except UnicodeDecodeError:
            rows.append((key, value.decode("utf-8", "replace"), False))
    good, bad = judge(rest_of(rows), max_future_s=300)
    assert good.num_rows == 0 and bad.schema == QUARANTINE_SCHEMA
    assert bad.column("reason").to_pylist() == [reason for _, _, reason in cases]
    assert bad.column("offset").to_pylist() == list(range(100, 100 + len(cases)))
    assert set(bad.column("date").to_pylist()) == {DAY} and set(bad.column("partition").to_pylist()) == {2}


def test_a_valid_message_in_another_spelling_becomes_a_lake_row_and_none_is_lost():
    doc = good_quote(datetime(2025, 1, 2, tzinfo=UTC))
    spaced = orjson.dumps(doc).decode().replace(",", ", ")  # valid JSON, not the canonical form
    good, bad = judge(rest_of([(b"BTC", spaced, True), (b"BTC", None, True)]), max_future_s=300)
    assert good.schema == LAKE_SCHEMA and good.num_rows == 1
    row = good.to_pylist()[0]
    quote = decode(spaced)
    assert (row["symbol"], row["price_usd"], row["source_ts"]) == ("BTC", quote.price_usd, quote.source_ts)
    assert (row["kafka_partition"], row["kafka_offset"], row["date"]) == (2, 100, "2025-01-02")
    assert bad.column("reason").to_pylist() == ["empty_message"]
