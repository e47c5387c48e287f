"""A stream's ticks made into quotes (`TickQuotes`) give what `make_quote` gives for each, the quote
or the refusal with its reason, on any price and times, once the coin has been quoted or not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cryptoviz import schema
from cryptoviz.schema import InvalidQuote, make_quote
from cryptoviz.scraper.sources.streams.quotes import TickQuotes, to_ms

RECEIVED = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def outcome(make, *args: object) -> object:
    try:
        return make(*args)
    except InvalidQuote as exc:
        return ("refused", exc.reason, exc.detail)
    except (OverflowError, ValueError, TypeError) as exc:
        return ("raised", type(exc).__name__)


def assert_alike(monkeypatch, symbol, price, event_time, received, warm):
    monkeypatch.setattr(schema, "utcnow", lambda: received)  # the validator's clock: the receive time
    quotes = TickQuotes("kraken")
    if warm:
        quotes.receive(RECEIVED)
        outcome(quotes.quote, symbol, 100.0, None)
    outcome(quotes.receive, received)
    expected = outcome(
        lambda: make_quote(symbol, price, event_time or received, source="kraken", ingest_ts=received)
    )
    assert outcome(quotes.quote, symbol, price, event_time) == expected


def test_a_tick_is_the_quote_make_quote_makes(monkeypatch):
    earlier = datetime(2026, 3, 1, 11, 59, 59, 999999, tzinfo=UTC)
    for when in (None, earlier, RECEIVED + timedelta(seconds=300)):
        for warm in (False, True):
            assert_alike(monkeypatch, "BTC", 5525.1, when, RECEIVED, warm)
    quotes = TickQuotes("binance")
    quotes.receive(RECEIVED)
    quotes.quote("ETH", 1.0, None)
    quote = quotes.quote("ETH", 2.5, datetime(2026, 3, 1, 11, 0, 0, 1999, tzinfo=UTC))
    assert quote.source_ts == datetime(2026, 3, 1, 11, 0, 0, 1000, tzinfo=UTC)
    assert quote.ingest_ts == datetime(2026, 3, 1, 12, 0, 0, 123000, tzinfo=UTC)
    assert (quote.name, quote.source, quote.price_usd) == ("Ethereum", "binance", 2.5)


@pytest.mark.parametrize(
    ("price", "event_time", "reason"),
    [
        (0.0, None, "price_not_positive"),
        (-1.0, None, "price_not_positive"),
        (float("nan"), None, "not_finite"),
        (1e7 + 1, None, "out_of_range"),
        (1.0, RECEIVED + timedelta(seconds=301), "future_timestamp"),
        (1.0, datetime(2008, 1, 1, tzinfo=UTC), "too_old"),
    ],
)
def test_a_tick_out_of_range_is_refused_as_make_quote_refuses_it(monkeypatch, price, event_time, reason):
    assert_alike(monkeypatch, "BTC", price, event_time, RECEIVED, warm=True)
    monkeypatch.setattr(schema, "utcnow", lambda: RECEIVED)
    quotes = TickQuotes("kraken")
    quotes.receive(RECEIVED)
    quotes.quote("BTC", 1.0, None)
    with pytest.raises(InvalidQuote) as caught:
        quotes.quote("BTC", price, event_time)
    assert caught.value.reason == reason


def test_to_ms_cuts_as_the_wire_form_does():
    for us in (0, 1, 999, 1000, 123456, 999999):
        ts = datetime(2026, 1, 1, 0, 0, 0, us, tzinfo=UTC)
        assert to_ms(ts) == schema.parse_ts(schema.format_ts(ts), "t")


zones = st.sampled_from([UTC, timezone(timedelta(hours=5)), timezone(timedelta(0))])
absolute = st.datetimes(
    min_value=datetime(1, 1, 2),  # noqa: DTZ001 (hypothesis bounds are naive; the zones come after)
    max_value=datetime(9999, 12, 30),  # noqa: DTZ001
    timezones=zones,
)
offsets = st.floats(-1e6, 400, allow_nan=False) | st.sampled_from([299.999, 300.0, 300.001, 300.0011])
prices = (
    st.floats()
    | st.sampled_from([0.0, -0.0, 1e-300, 1e7, 1e7 + 1, 5525.1])
    | st.integers(-(2**70), 2**70)
    | st.booleans()
)
symbols = st.sampled_from(["BTC", "DOGE", "USDC", "FOO", "", "B" * 17, "btc"])


@settings(max_examples=500, deadline=None)
@given(symbols, prices, st.none() | absolute | offsets, absolute | st.just(RECEIVED), st.booleans())
def test_any_tick_is_made_or_refused_as_make_quote_does(monkeypatch_any, symbol, price, when, received, warm):
    """`when`: the event time, or seconds after the receive time."""
    if isinstance(when, float):
        when = received + timedelta(seconds=when)
    assert_alike(monkeypatch_any, symbol, price, when, received, warm)


@pytest.fixture(scope="module")
def monkeypatch_any():
    with pytest.MonkeyPatch.context() as mp:
        yield mp
