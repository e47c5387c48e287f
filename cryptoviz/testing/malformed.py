"""A catalogue of malformed quote messages, each with the reason the contract must give it.

Shared by the schema's unit tests, the ML processor's and the lake's integration tests and the
chaos test: every kind of bad input a consumer must survive, once each.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from cryptoviz.schema import MAX_MESSAGE_BYTES, encode, make_quote


def good_quote(ts: datetime | None = None) -> dict:
    quote = make_quote("BTC", 100.0, ts or datetime(2025, 1, 2, tzinfo=UTC), source="test")
    return orjson.loads(encode(quote))


def malformed(ts: datetime | None = None) -> list[tuple[bytes, bytes, str]]:
    """(key, value, reason) for every kind of bad message: a wrong type in every field, timestamps
    that overflow, predate crypto or lie in the future, oversize and non-UTF-8 payloads."""
    good = good_quote(ts)

    def bad(key: bytes, reason: str, **change: object) -> tuple[bytes, bytes, str]:
        return key, orjson.dumps(good | change), reason

    cases = [
        (b"BTC", b"", "empty_message"),
        (b"BTC", b"{oops", "bad_json"),
        # a whole quote whose name is not UTF-8: read with replacement characters it would pass
        (b"BTC", orjson.dumps(good | {"name": "@@"}).replace(b"@@", b"Bit\xffcoin"), "bad_json"),
        (b"BTC", b"[1, 2]", "not_an_object"),
        (b"BTC", b"x" * (MAX_MESSAGE_BYTES + 1), "too_large"),
        (b"BTC", orjson.dumps(good | {"name": "B" * 20_000}), "too_large"),
        (b"BTC", orjson.dumps({k: v for k, v in good.items() if k != "price_usd"}), "missing_field"),
        bad(b"BTC", "bad_schema_version", schema_version=True),
        bad(b"BTC", "bad_schema_version", schema_version="1"),
        bad(b"BTC", "bad_schema_version", schema_version=2),
        bad(b"BTC", "bad_type", symbol=["BTC"]),
        bad(b"ZZZ", "unknown_symbol", symbol="ZZZ"),
        bad(b"BTC", "bad_type", name={"n": 1}),
        bad(b"BTC", "bad_string", name="B" * 100),
        bad(b"BTC", "bad_string", name="Bit\ncoin"),
        bad(b"BTC", "unknown_source", source=["coingecko"]),
        bad(b"BTC", "unknown_source", source={"a": 1}),
        bad(b"BTC", "bad_type", price_usd="100"),
        bad(b"BTC", "bad_type", price_usd=True),
        bad(b"BTC", "price_not_positive", price_usd=-1),
        bad(b"BTC", "out_of_range", price_usd=1e30),
        (
            b"BTC",
            orjson.dumps(good | {"market_cap_usd": 7}).replace(b":7,", b":1" + b"0" * 200 + b","),
            "out_of_range",
        ),
        (b"BTC", orjson.dumps(good | {"market_cap_usd": 7}).replace(b":7,", b":1e400,"), "bad_json"),
        (b"BTC", b"[" * 5000, "bad_json"),
        bad(b"BTC", "bad_type", volume_24h_usd=[1]),
        bad(b"BTC", "out_of_range", change_24h_pct=-101),
        bad(b"BTC", "bad_type", source_ts=1735776000),
        bad(b"BTC", "bad_timestamp", source_ts="0001-01-01T00:00:00+01:00"),
        bad(b"BTC", "bad_timestamp", source_ts="9999-12-31T23:59:59-01:00"),
        bad(b"BTC", "bad_timestamp", source_ts="2025-01-02"),
        bad(b"BTC", "bad_timestamp", source_ts="2025-01-02T00:00:00" + "0" * 60 + "Z"),
        bad(b"BTC", "too_old", source_ts="2001-01-01T00:00:00Z"),
        bad(b"BTC", "future_timestamp", source_ts="2099-01-01T00:00:00Z", ingest_ts="2099-01-01T00:00:00Z"),
        bad(b"BTC", "future_timestamp", ingest_ts="2099-01-01T00:00:00Z"),
    ]
    return cases
