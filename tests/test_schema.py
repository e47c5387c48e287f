from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from cryptoviz.schema import FIELDS, InvalidQuote, decode, encode, make_quote, to_dict, validate

T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)


def good() -> dict:
    return to_dict(make_quote("BTC", 64000.5, T0, source="coingecko", market_cap_usd=1.2e12, ingest_ts=T0))


def test_round_trip_keeps_every_field():
    quote = make_quote("ETH", 3100.25, T0, volume_24h_usd=1e9, change_24h_pct=-1.5, ingest_ts=T0)
    back = decode(encode(quote))
    assert back == quote
    assert list(orjson.loads(encode(quote))) == list(FIELDS)
    assert orjson.loads(encode(quote))["source_ts"] == "2024-05-01T12:00:00.000Z"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"price_usd": float("nan")}, "not_finite"),
        ({"price_usd": 0}, "price_not_positive"),
        ({"price_usd": -3.0}, "price_not_positive"),
        ({"price_usd": "64000"}, "bad_type"),
        ({"price_usd": True}, "bad_type"),
        ({"price_usd": 1e30}, "out_of_range"),
        ({"symbol": "NOPE"}, "unknown_symbol"),
        ({"symbol": ""}, "unknown_symbol"),
        ({"source": "mystery"}, "unknown_source"),
        ({"source_ts": "yesterday"}, "bad_timestamp"),
        ({"source_ts": "2024-05-01T12:00:00"}, "bad_timestamp"),
        ({"source_ts": "2030-01-01T00:00:00Z"}, "future_timestamp"),
        ({"schema_version": 2}, "bad_schema_version"),
        ({"market_cap_usd": -1}, "out_of_range"),
        ({"price_usd": None}, "missing_field"),
    ],
)
def test_validator_rejects_with_reason(change, reason):
    with pytest.raises(InvalidQuote) as info:
        validate(good() | change)
    assert info.value.reason == reason


def test_missing_field_is_named():
    data = good()
    del data["ingest_ts"]
    with pytest.raises(InvalidQuote, match="missing_field: ingest_ts"):
        validate(data)


@pytest.mark.parametrize(
    ("raw", "reason"), [(b"", "empty_message"), (b"{nope", "bad_json"), (b"[1]", "not_an_object")]
)
def test_decode_rejects_garbage(raw, reason):
    with pytest.raises(InvalidQuote) as info:
        decode(raw)
    assert info.value.reason == reason


def test_nullable_fields_may_be_null_and_symbol_set_is_configurable():
    data = good() | {"market_cap_usd": None, "volume_24h_usd": None, "change_24h_pct": None}
    assert validate(data).market_cap_usd is None
    with pytest.raises(InvalidQuote):
        validate(data, symbols={"ETH"})
    assert validate(data | {"symbol": "SYM1"}, symbols={"SYM1"}).symbol == "SYM1"


def test_timestamps_are_utc_aware():
    quote = validate(good() | {"source_ts": "2024-05-01T14:00:00+02:00"})
    assert quote.source_ts == T0 and quote.source_ts.tzinfo is not None
    assert quote.event_time == T0.timestamp()
    assert validate(good() | {"source_ts": (T0 + timedelta(minutes=4)).isoformat()}).source_ts > T0
