"""Kafka records into the lake job's rows (cryptoviz.lake.rows): every message judged by the
contract's own decoder, a quote as a typed lake row, anything else with the contract's reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pyarrow as pa

from cryptoviz.lake.rows import ROW_SCHEMA, SPARK_DDL, RowBuilder, lake_of, quarantine_of
from cryptoviz.lake.schemas import LAKE_SCHEMA, QUARANTINE_SCHEMA
from cryptoviz.lake.writer import quotes_table
from cryptoviz.schema import FIELDS, InvalidQuote, decode, encode, make_quote
from cryptoviz.testing.malformed import good_quote, malformed

RECEIVED_MS = int(datetime(2026, 11, 26, 12, tzinfo=UTC).timestamp() * 1000)


def rows_of(
    values: list[tuple[bytes | None, bytes | None]], partition: int = 2, first: int = 100
) -> pa.Table:
    rows = RowBuilder(max_future_s=300)
    for i, (key, value) in enumerate(values):
        rows.add(partition, first + i, key, value, RECEIVED_MS)
    batches = rows.batches()
    assert all(b.schema == ROW_SCHEMA for b in batches)
    assert not rows.batches(), "taken out once"
    return pa.Table.from_batches(batches, schema=ROW_SCHEMA)


def test_a_quote_becomes_the_lake_row_the_writer_would_make_of_it():
    t0 = datetime(2025, 1, 2, 23, 59, 59, tzinfo=UTC)
    quotes = [
        make_quote(sym, 100.0 + i, t0 + timedelta(seconds=i), market_cap_usd=1e9)
        for i, sym in enumerate(["BTC", "ETH", "SOL"])
    ]
    table = rows_of([(q.symbol.encode(), encode(q)) for q in quotes])
    lake = lake_of(table)
    assert lake.schema == LAKE_SCHEMA
    assert lake.equals(quotes_table(quotes, partition=2, first_offset=100))
    assert lake.column("date").to_pylist() == ["2025-01-02", "2025-01-03", "2025-01-03"]
    assert quarantine_of(table).num_rows == 0


def test_each_malformed_message_is_refused_with_the_contracts_reason_and_kept_as_read():
    cases = malformed(datetime(2025, 1, 2, tzinfo=UTC))
    table = rows_of([(key, value) for key, value, _ in cases])
    assert lake_of(table).num_rows == 0
    bad = quarantine_of(table)
    assert bad.schema == QUARANTINE_SCHEMA
    assert bad.column("reason").to_pylist() == [reason for _, _, reason in cases]
    for (key, value, _), row in zip(cases, bad.to_pylist(), strict=True):
        assert row["key"] == (key.decode("utf-8", "replace") if key is not None else None)
        assert row["value"] == (value.decode("utf-8", "replace") if value is not None else None)
    assert bad.column("offset").to_pylist() == list(range(100, 100 + len(cases)))
    assert set(bad.column("date").to_pylist()) == {"2026-11-26"} and set(
        bad.column("partition").to_pylist()
    ) == {2}


def test_the_verdict_is_the_contracts_own_whatever_the_spelling():
    doc = good_quote(datetime(2025, 1, 2, tzinfo=UTC))
    canonical = orjson.dumps(doc)
    spaced = canonical.replace(b",", b", ")  # valid JSON, not the canonical form: still a quote
    late = orjson.dumps(doc | {"source_ts": "2099-01-01T00:00:00Z"})
    table = rows_of([(b"BTC", canonical), (b"BTC", spaced), (None, None), (b"BTC", late), (b"BTC", b"\xff")])
    lake = lake_of(table)
    assert lake.column("kafka_offset").to_pylist() == [100, 101]
    quote = decode(spaced)
    for row in lake.to_pylist():
        assert {name: row[name] for name in FIELDS} == {name: getattr(quote, name) for name in FIELDS}
    bad = quarantine_of(table)
    assert bad.column("offset").to_pylist() == [102, 103, 104]
    expected = []
    for raw in (None, late, b"\xff"):
        try:
            decode(raw, max_future_s=300)
        except InvalidQuote as exc:
            expected.append(exc.reason)
    assert bad.column("reason").to_pylist() == expected == ["empty_message", "future_timestamp", "bad_json"]


def test_a_quote_dated_past_the_clock_it_is_read_against_is_refused():
    ahead = datetime(2025, 1, 2, tzinfo=UTC)
    value = encode(make_quote("BTC", 100.0, ahead, ingest_ts=ahead))
    rows = RowBuilder(max_future_s=300)
    rows.add(0, 0, b"BTC", value, RECEIVED_MS, now=ahead - timedelta(seconds=301))
    rows.add(0, 1, b"BTC", value, RECEIVED_MS, now=ahead - timedelta(seconds=299))
    table = pa.Table.from_batches(rows.batches())
    assert lake_of(table).column("kafka_offset").to_pylist() == [1]
    assert quarantine_of(table).column("offset").to_pylist() == [0]


def test_the_spark_schema_declares_every_column_in_order():
    names = [part.split(" ")[0] for part in SPARK_DDL.split(", ")]
    assert names == ROW_SCHEMA.names
    assert "source_ts timestamp" in SPARK_DDL and "kafka_offset bigint" in SPARK_DDL
