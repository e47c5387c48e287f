from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from cryptoviz.coins import COINS
from cryptoviz.schema import (
    FIELDS,
    MAX_MESSAGE_BYTES,
    REASONS,
    InvalidQuote,
    _canonical,
    decode,
    encode,
    format_ts,
    make_quote,
    to_dict,
    validate,
)
from cryptoviz.scraper.sources.replay import history_to_quotes, read_history
from cryptoviz.settings import HISTORY_2025H1
from cryptoviz.testing.malformed import malformed

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
        ({"price_usd": 10**400}, "out_of_range"),  # as Python's JSON reads a 401-digit number
        ({"volume_24h_usd": -(10**400)}, "out_of_range"),
        ({"symbol": "NOPE"}, "unknown_symbol"),
        ({"symbol": ""}, "bad_string"),
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


@pytest.mark.parametrize(("key", "raw", "reason"), malformed(), ids=lambda v: str(v)[:30])
def test_every_kind_of_malformed_message_is_refused_with_its_reason(key, raw, reason):
    assert reason in REASONS
    with pytest.raises(InvalidQuote) as info:
        decode(raw)
    assert info.value.reason == reason


def test_a_future_date_is_judged_by_the_consumers_clock_not_the_message():
    data = good() | {"source_ts": "2099-01-01T00:00:00Z", "ingest_ts": "2099-01-01T00:00:00Z"}
    with pytest.raises(InvalidQuote, match="future_timestamp"):
        validate(data)
    now = datetime(2099, 1, 1, tzinfo=UTC)
    assert validate(data, now=now).source_ts == now
    ahead = good() | {"source_ts": format_ts(T0 + timedelta(seconds=90))}
    with pytest.raises(InvalidQuote, match="future_timestamp"):
        validate(ahead, now=T0, max_future_s=60)
    assert validate(ahead, now=T0, max_future_s=120).source_ts == T0 + timedelta(seconds=90)


def test_a_str_message_is_bounded_by_its_utf8_size():
    quote = orjson.loads(encode(make_quote("BTC", 1.0, T0, ingest_ts=T0)))
    text = orjson.dumps(quote | {"name": "€" * 6000}).decode()  # 6,000 characters, 18,000 bytes
    assert len(text) < MAX_MESSAGE_BYTES
    with pytest.raises(InvalidQuote, match="too_large"):
        decode(text)


def test_real_quotes_take_the_fast_path_and_no_malformed_one_does():
    """decode's fast path (msgspec, typed and bounded from the contract) takes every quote a
    producer writes; the malformed catalogue all goes to the validator for its reason (above)."""
    rows = read_history([HISTORY_2025H1])[:2000]
    quotes = [q for batch in history_to_quotes(rows) for q in batch]
    latest = datetime(2030, 1, 1, tzinfo=UTC)
    for quote in quotes:
        assert _canonical(encode(quote), COINS, latest) == quote
    for _, raw, _ in malformed():
        assert _canonical(raw, COINS, latest) is None
