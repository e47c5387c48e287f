"""The latest quotes' binary layout: what the scraper writes reads back as the quote's wire form,
one by one and all at once into columns; a quote the layout cannot hold is written in the msgpack
form instead; a value that is not a quote of the layout fails the all-at-once decode and alone is
refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import numpy as np
import pytest

from cryptoviz import contracts, schema
from cryptoviz.contracts import QUOTE_SIZE, ContractError
from cryptoviz.contracts.quotes import decode_quote_records, decode_quote_table

T0 = datetime(2025, 1, 1, 0, 0, 1, 234_567, tzinfo=UTC)  # the wire keeps milliseconds: .234
QUOTES = [
    schema.make_quote("BTC", 97000.5, T0, market_cap_usd=1.9e12, volume_24h_usd=4.5e10, change_24h_pct=-1.5),
    schema.make_quote("ETH", 3400.0, T0 + timedelta(hours=1), source="binance", ingest_ts=T0),
    schema.make_quote("ÉTH", 1.0, T0 + timedelta(hours=2), ingest_ts=T0 + timedelta(hours=2)),
]


def wire(q: schema.Quote) -> dict:
    return schema.to_dict(q)


def test_every_quote_has_one_size_and_reads_back_as_its_wire_form():
    raws = [contracts.encode_latest(q) for q in QUOTES]
    assert {len(r) for r in raws} == {QUOTE_SIZE} and raws[0][0] == contracts.QUOTE_MAGIC
    assert [msgspec.structs.asdict(contracts.decode_latest(r)) for r in raws] == [wire(q) for q in QUOTES]
    assert contracts.decode_latest(raws[0]).source_ts == "2025-01-01T00:00:01.234Z"
    assert contracts.decode_latest(raws[1]).market_cap_usd is None


def test_the_table_reads_every_quote_at_once_with_its_columns():
    table = b"".join(contracts.encode_latest(q) for q in QUOTES)
    quotes = decode_quote_table(table)
    assert list(quotes) == ["BTC", "ETH", "ÉTH"] and "SOL" not in quotes and quotes.get("SOL") is None
    assert [msgspec.structs.asdict(q) for q in quotes.values()] == [wire(q) for q in QUOTES]
    assert quotes.column("price_usd").tolist() == [97000.5, 3400.0, 1.0]
    assert np.isnan(quotes.column("market_cap_usd")[1:]).all()
    in_ms = [datetime.fromisoformat(wire(q)["source_ts"]).timestamp() for q in QUOTES]  # .234 s
    assert quotes.column("source_ts").tolist() == pytest.approx(in_ms, abs=1e-6)
    assert quotes.texts("source") == ["test", "binance", "test"] and quotes.texts("name")[0] == "Bitcoin"
    assert decode_quote_records([contracts.encode_latest(q) for q in QUOTES]) == quotes
    assert decode_quote_table(b"") == {}
    with pytest.raises(KeyError):
        quotes.column("name")


def test_a_quote_the_layout_cannot_hold_is_written_as_the_msgpack_array():
    long = msgspec.structs.replace(QUOTES[0], name="É" * 64)  # 64 characters (the schema's most), 128 bytes
    raw = contracts.encode_latest(long)
    assert len(raw) != QUOTE_SIZE and contracts.decode_latest(raw).name == "É" * 64
    with pytest.raises(ContractError, match="LatestQuote"):
        decode_quote_records([contracts.encode_latest(QUOTES[1]), raw])


def record(**fields: object) -> bytes:
    """A record of the first quote with some fields' raw values replaced."""
    values = list(contracts._QUOTE_RECORD.unpack(contracts.encode_latest(QUOTES[0])))
    for name, value in fields.items():
        values[
            2 + list(schema.FIELDS).index(name) if name in schema.FIELDS else ("magic", "version").index(name)
        ] = value
    return contracts._QUOTE_RECORD.pack(*values)


@pytest.mark.parametrize(
    "bad",
    [
        record(version=9),
        record(symbol=b""),
        record(name=b""),
        record(name=b"Bit\0coin"),
        record(source=b"\xff\xfe"),
        record(source_ts=-1),
        record(ingest_ts=2**62),
    ],
)
def test_a_record_that_is_not_a_quote_fails_the_table_and_alone_is_refused(bad):
    good = contracts.encode_latest(QUOTES[1])
    with pytest.raises(ContractError, match="LatestQuote"):
        decode_quote_table(good + bad)
    with pytest.raises(ContractError, match="LatestQuote"):
        contracts.decode_latest(bad)
    with pytest.raises(ContractError, match="LatestQuote"):
        decode_quote_table(good + bad[:-1])  # a table cut short
