"""Property-based tests: for any input, the contract and every parser give only documented outcomes.

- `schema.decode`: a Quote, or InvalidQuote with a reason from REASONS; nothing else escapes.
- the source parsers (CoinGecko markets and market chart, CoinMarketCap quotes): a FetchResult
  whose quotes are valid and whose rejects are counted by reason, or SourceError for a body that is
  unusable as a whole.
- replay rows (the CSV history): bad rows are counted and skipped.

`FUZZ_EXAMPLES` raises the example budget (the fuzz run in the README: FUZZ_EXAMPLES=200000).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import os
from collections import Counter
from datetime import UTC, datetime, timedelta

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cryptoviz.coins import COINS as KNOWN_COINS
from cryptoviz.schema import (
    FIELDS,
    MAX_FUTURE_S,
    MAX_PRICE_USD,
    REASONS,
    SOURCES,
    InvalidQuote,
    Quote,
    _canonical,
    decode,
    encode,
    validate,
)
from cryptoviz.scraper.sources.base import FetchResult, SourceError
from cryptoviz.scraper.sources.coingecko import parse_market_chart, parse_markets
from cryptoviz.scraper.sources.coinmarketcap import parse_quotes_latest
from cryptoviz.scraper.sources.replay import read_history
from cryptoviz.testing.malformed import good_quote

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "400"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
COINS = ["BTC", "ETH", "XRP", "USDT", "BNB", "SOL", "DOGE"]
NOW = datetime(2025, 6, 1, tzinfo=UTC)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(
        ["BTC", "bitcoin", "coingecko", "replay", "2025-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00"]
    )
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=20,
)


def to_bytes(value: object) -> bytes:
    # the stdlib writes what orjson refuses to (big integers, NaN): the decoder must cope with both
    return json.dumps(value).encode()


def assert_documented(raw: bytes | str) -> Quote | None:
    try:
        quote = decode(raw, now=NOW)
    except InvalidQuote as exc:
        assert exc.reason in REASONS, exc.reason
        return None
    assert isinstance(quote, Quote)
    assert 0 < quote.price_usd <= MAX_PRICE_USD
    assert quote.source_ts.tzinfo is not None and quote.ingest_ts.tzinfo is not None
    return quote


@FUZZ
@given(st.binary(max_size=600))
def test_decode_any_bytes(raw):
    assert_documented(raw)


@FUZZ
@given(json_values)
def test_decode_any_json(value):
    assert_documented(to_bytes(value))


@FUZZ
@given(
    st.dictionaries(st.sampled_from(list(FIELDS)), json_values, max_size=len(FIELDS)),
    st.sets(st.sampled_from(list(FIELDS)), max_size=3),
)
def test_decode_a_valid_quote_with_fields_replaced_or_removed(replaced, removed):
    data = good_quote() | replaced
    for name in removed:
        data.pop(name, None)
    quote = assert_documented(to_bytes(data))
    if quote is not None:  # whatever passed is the quote the fields say
        assert quote.symbol == data["symbol"] and quote.price_usd == float(data["price_usd"])


@FUZZ
@given(st.text(max_size=300))
def test_decode_any_text(text):
    assert_documented(text)


def assert_result(result: FetchResult) -> None:
    assert isinstance(result, FetchResult)
    for quote in result.quotes:  # every quote a parser returns is one the contract accepts
        assert decode(encode(quote), now=NOW) == quote
    assert all(isinstance(reason, str) and n > 0 for reason, n in result.rejects.items())


def parse_or_source_error(parse, *args) -> None:
    try:
        result = parse(*args)
    except SourceError as exc:
        assert exc.kind in {"malformed_body", "empty_body", "api_error"}, exc.kind
        return
    assert_result(result)


coingecko_item = st.fixed_dictionaries(
    {},
    optional={
        "id": st.sampled_from(["bitcoin", "ethereum", "ripple", "nope"]) | json_values,
        "current_price": json_values,
        "last_updated": st.sampled_from(["2025-05-31T23:59:00.000Z", "yesterday"]) | json_values,
        "market_cap": json_values,
        "total_volume": json_values,
        "price_change_percentage_24h": json_values,
    },
)


@FUZZ
@given(st.lists(coingecko_item | json_values, max_size=6) | json_values)
def test_coingecko_markets_any_body(body):
    parse_or_source_error(parse_markets, body, COINS, NOW)


point = st.lists(
    st.integers(min_value=-(2**66), max_value=2**66) | st.floats() | json_values, min_size=0, max_size=3
)


@FUZZ
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "prices": st.lists(point, max_size=5) | json_values,
            "market_caps": st.lists(point, max_size=5) | json_values,
            "total_volumes": st.lists(point, max_size=5) | json_values,
        },
    )
    | json_values
)
def test_coingecko_market_chart_any_body(body):
    parse_or_source_error(parse_market_chart, body, "BTC", NOW)


cmc_usd = st.fixed_dictionaries(
    {},
    optional={
        "price": json_values,
        "last_updated": st.sampled_from(["2025-05-31T23:59:00.000Z"]) | json_values,
        "market_cap": json_values,
        "volume_24h": json_values,
        "percent_change_24h": json_values,
    },
)
cmc_item = st.fixed_dictionaries(
    {}, optional={"quote": st.fixed_dictionaries({}, optional={"USD": cmc_usd | json_values}) | json_values}
)


@FUZZ
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "status": st.fixed_dictionaries({}, optional={"error_code": json_values}) | json_values,
            "data": st.dictionaries(
                st.sampled_from([*COINS, "X"]),
                cmc_item | st.lists(cmc_item, max_size=2) | json_values,
                max_size=4,
            )
            | json_values,
        },
    )
    | json_values
)
def test_coinmarketcap_quotes_any_body(body):
    parse_or_source_error(parse_quotes_latest, body, COINS, NOW)


csv_cell = st.sampled_from(
    ["", "nan", "inf", "-1", "0", "abc", "2025-01-01", "2025-01-01T00:00:00", "1e400"]
) | st.text(st.characters(blacklist_categories=["Cs"]), max_size=12)


@FUZZ
@given(
    rows=st.lists(
        st.tuples(
            csv_cell | st.just("2025-01-01T00:00:00+00:00"),
            st.sampled_from([*COINS, "", "ZZZ"]),
            csv_cell,
            csv_cell,
        ),
        max_size=8,
    )
)
def test_replay_rows_any_content(rows, tmp_path_factory):
    path = tmp_path_factory.mktemp("replay") / "h.csv.gz"
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["timestamp", "symbol", "price", "quote_volume"])
    writer.writerows(rows)
    path.write_bytes(gzip.compress(buf.getvalue().encode()))
    rejects: Counter[str] = Counter()
    got = read_history([path], COINS, rejects)
    assert all(r.symbol in COINS and r.ts.tzinfo is not None for r in got)
    assert all(math.isfinite(r.price) and math.isfinite(r.quote_volume) and r.quote_volume >= 0 for r in got)
    assert len(got) + sum(rejects.values()) <= len(rows)


def reference(raw: bytes | str, symbols: set[str] | None) -> Quote | str:
    """What the contract's validator alone makes of a message: the quote, or the reason."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return "bad_json"
    try:
        return validate(data, symbols, NOW)
    except InvalidQuote as exc:
        return exc.reason


def assert_fast_path_agrees(raw: bytes | str, symbols: set[str] | None = None) -> None:
    """The fast path accepts only what the validator accepts, as the very same quote (field by field,
    types and time zones too); everything else decode hands to the validator."""
    latest = NOW + timedelta(seconds=MAX_FUTURE_S)
    fast = _canonical(raw, COINS_SET if symbols is None else symbols, latest)
    if fast is not None:
        ref = reference(raw, symbols)
        assert isinstance(ref, Quote), (raw, ref)
        for name in FIELDS:
            a, b = getattr(fast, name), getattr(ref, name)
            assert a == b and type(a) is type(b), (name, a, b)
        assert fast.source_ts.tzinfo is ref.source_ts.tzinfo and fast.ingest_ts.tzinfo is ref.ingest_ts.tzinfo


COINS_SET = frozenset(KNOWN_COINS)
timestamps = st.sampled_from(
    [
        "2025-01-01T00:00:00Z",
        "2025-01-01T00:00:00.000Z",
        "2025-01-01T00:00:00.1234567Z",
        "2025-01-01t00:00:00z",
        "2025-01-01 00:00:00Z",
        "2025-01-01T00:00:00+00:00",
        "2025-01-01T01:00:00+01:00",
        "2025-01-01T00:00:00",
        "20250101T000000Z",
        "2008-12-31T23:59:59Z",
        "2025-06-01T00:05:00Z",
        "2025-06-01T00:05:00.001Z",
        "2025-01-01T00:00:00." + "0" * 30 + "Z",
    ]
) | st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat())
fields = {
    "schema_version": st.sampled_from([1, 1.0, True, "1", 2]),
    "symbol": st.sampled_from(["BTC", "ETH", "btc", "", "BTC\n", "B" * 17]) | st.text(max_size=20),
    "name": st.sampled_from(["Bitcoin", "", "N" * 64, "N" * 65, "Bit\x00coin", "Bitcoïn", "\ud800"])
    | st.text(max_size=70),
    "price_usd": st.floats()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([0, 0.0, -0.0, 1e7, 1e7 + 1]),
    "market_cap_usd": st.none() | st.floats() | st.integers(min_value=-10, max_value=2**50) | st.just(True),
    "volume_24h_usd": st.none() | st.floats() | st.sampled_from([0, -1e-300, 1e14, 1e14 * (1 + 1e-15)]),
    "change_24h_pct": st.none() | st.floats() | st.sampled_from([-100, -100.0000001, 1e6, "5"]),
    "source": st.sampled_from([*sorted(SOURCES), "Replay", "", None]),
    "source_ts": timestamps | json_values,
    "ingest_ts": timestamps | json_values,
}


@FUZZ
@given(st.fixed_dictionaries({}, optional=fields), st.booleans())
def test_the_fast_path_accepts_only_what_the_validator_accepts_alike(data, as_text):
    raw = json.dumps(good_quote() | data) if as_text else to_bytes(good_quote() | data)
    assert_fast_path_agrees(raw)
    assert_fast_path_agrees(raw, {"ETH"})


@FUZZ
@given(st.binary(max_size=600) | st.text(max_size=300).map(str.encode) | json_values.map(to_bytes))
def test_the_fast_path_on_anything(raw):
    assert_fast_path_agrees(raw)


def test_the_fast_path_on_duplicate_keys_and_extra_fields():
    good = to_bytes(good_quote())
    assert_fast_path_agrees(good[:-1] + b',"symbol":"ETH","extra":[1,2]}')
    assert_fast_path_agrees(good[:-1] + b',"price_usd":-1}')
    assert_fast_path_agrees(b'{"symbol":"ETH",' + good[1:])
