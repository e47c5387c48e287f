"""The exchange stream adapters' parsers on frames shaped as each exchange's public documentation
shows them (Binance spot combined streams, Coinbase Exchange feed, Kraken WebSocket API v1), their
control messages, and malformed frames: each refused with a reason, never another exception."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cryptoviz.schema import SOURCES, make_quote
from cryptoviz.scraper.sources.streams import Binance, Coinbase, Kraken, adapter
from cryptoviz.scraper.sources.streams.base import FRAME_REASONS, MAX_FRAME_BYTES, FrameError, Parsed, Tick


def dumps(body: object) -> str:
    return orjson.dumps(body).decode()


def refused(parse, frame: str | bytes) -> str:
    with pytest.raises(FrameError) as caught:
        parse(frame)
    assert caught.value.reason in FRAME_REASONS
    return caught.value.reason


# --- Binance ----------------------------------------------------------------------------------
BINANCE_TRADE = {  # the documented trade payload, on a USDT pair
    "e": "trade",
    "E": 1672515782136,
    "s": "BNBUSDT",
    "t": 12345,
    "p": "0.001",
    "q": "100",
    "T": 1672515782136,
    "m": True,
    "M": True,
}
BINANCE_BOOK = {
    "u": 400900217,
    "s": "BNBUSDT",
    "b": "25.35190000",
    "B": "31.21000000",
    "a": "25.36520000",
    "A": "40.66000000",
}
BINANCE_KLINE = {
    "e": "kline",
    "E": 1672515782136,
    "s": "BTCUSDT",
    "k": {
        "t": 1672515780000,
        "T": 1672515839999,
        "s": "BTCUSDT",
        "i": "1m",
        "f": 100,
        "L": 200,
        "o": "0.0010",
        "c": "0.0020",
        "h": "0.0025",
        "l": "0.0015",
        "v": "1000",
        "n": 100,
        "x": False,
        "q": "1.0000",
        "V": "500",
        "Q": "0.500",
        "B": "123456",
    },
}


def test_binance_trade_in_a_combined_stream():
    parsed = Binance().parse(dumps({"stream": "bnbusdt@trade", "data": BINANCE_TRADE}))
    assert parsed == Parsed((Tick("BNB", 0.001, datetime(2022, 12, 31, 19, 43, 2, 136000, tzinfo=UTC)),))


def test_binance_book_ticker_is_the_mid_without_a_time():
    (tick,) = Binance("bookTicker").parse(dumps({"stream": "bnbusdt@bookTicker", "data": BINANCE_BOOK})).ticks
    assert tick.symbol == "BNB" and tick.price == pytest.approx((25.3519 + 25.3652) / 2)
    assert tick.event_time is None


def test_binance_kline_is_the_close_so_far_at_the_event_time():
    (tick,) = Binance("kline_1m").parse(dumps({"stream": "btcusdt@kline_1m", "data": BINANCE_KLINE})).ticks
    assert (tick.symbol, tick.price) == ("BTC", 0.002)
    assert tick.event_time == datetime.fromtimestamp(1672515782.136, UTC)


def test_binance_url_names_every_stream_and_nothing_is_sent():
    b = Binance()
    url = b.url("wss://stream.binance.com:9443/", ["BTC", "USDT", "DOGE"])
    assert url == "wss://stream.binance.com:9443/stream?streams=btcusdt@trade/dogeusdt@trade"
    assert b.subscribe(["BTC"]) == []
    assert "USDT" not in b.lists()  # no USDT/USDT pair
    with pytest.raises(ValueError):
        Binance("depth")


def test_binance_control_messages():
    assert Binance().parse('{"result": null, "id": 1}').control == "response"
    assert Binance().parse('{"code": 2, "msg": "Invalid request"}').control == "error"


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ("}{", "bad_json"),
        (b"\xff\xfe", "bad_json"),
        ("[1, 2]", "unexpected_frame"),
        ('{"stream": "bnbusdt@trade"}', "unexpected_frame"),
        (dumps({"stream": "bnbusdt@depth", "data": BINANCE_TRADE}), "unexpected_frame"),
        (dumps({"stream": "foousdt@trade", "data": BINANCE_TRADE | {"s": "FOOUSDT"}}), "unknown_pair"),
        (dumps({"stream": "bnbusdt@trade", "data": BINANCE_TRADE | {"p": "abc"}}), "bad_price"),
        (dumps({"stream": "bnbusdt@trade", "data": BINANCE_TRADE | {"p": True}}), "bad_price"),
        (dumps({"stream": "bnbusdt@trade", "data": BINANCE_TRADE | {"p": "nan"}}), "bad_price"),
        (dumps({"stream": "bnbusdt@trade", "data": BINANCE_TRADE | {"T": "soon"}}), "bad_timestamp"),
        (dumps({"stream": "bnbusdt@trade", "data": BINANCE_TRADE | {"T": 10**18}}), "bad_timestamp"),
        (dumps({"stream": "btcusdt@kline_1m", "data": BINANCE_KLINE | {"k": None}}), "unexpected_frame"),
        ("x" * (MAX_FRAME_BYTES + 1), "too_large"),
    ],
)
def test_binance_malformed_frames_are_refused_by_reason(frame, reason):
    assert refused(Binance().parse, frame) == reason


# --- Coinbase ---------------------------------------------------------------------------------
COINBASE_TICKER = {  # the documented ticker message
    "type": "ticker",
    "sequence": 37475248783,
    "product_id": "ETH-USD",
    "price": "1285.22",
    "open_24h": "1310.79",
    "volume_24h": "245532.79269678",
    "low_24h": "1280.52",
    "high_24h": "1313.8",
    "volume_30d": "9788783.60117027",
    "best_bid": "1285.04",
    "best_bid_size": "0.46688654",
    "best_ask": "1285.27",
    "best_ask_size": "1.56637040",
    "side": "buy",
    "time": "2022-10-19T23:28:22.061769Z",
    "trade_id": 370843401,
    "last_size": "11.4396987",
}


def test_coinbase_ticker():
    (tick,) = Coinbase().parse(dumps(COINBASE_TICKER)).ticks
    assert (tick.symbol, tick.price) == ("ETH", 1285.22)
    assert tick.event_time == datetime(2022, 10, 19, 23, 28, 22, 61769, tzinfo=UTC)


def test_coinbase_ticker_without_a_time_takes_the_receive_time():
    body = {k: v for k, v in COINBASE_TICKER.items() if k not in ("time", "trade_id", "side", "last_size")}
    (tick,) = Coinbase().parse(dumps(body)).ticks
    assert tick.event_time is None


def test_coinbase_subscribe_message():
    (message,) = Coinbase().subscribe(["BTC", "BNB", "DOGE"])  # no BNB-USD on Coinbase
    assert orjson.loads(message) == {
        "type": "subscribe",
        "product_ids": ["BTC-USD", "DOGE-USD"],
        "channels": ["ticker", "heartbeat"],
    }


def test_coinbase_control_messages():
    c = Coinbase()
    subscriptions = {"type": "subscriptions", "channels": [{"name": "ticker", "product_ids": ["ETH-USD"]}]}
    assert c.parse(dumps(subscriptions)) == Parsed(control="subscriptions")
    heartbeat = {
        "type": "heartbeat",
        "sequence": 90,
        "last_trade_id": 20,
        "product_id": "BTC-USD",
        "time": "2014-11-07T08:19:28.464459Z",
    }
    assert c.parse(dumps(heartbeat)) == Parsed(control="heartbeat")
    assert c.parse('{"type": "status", "products": []}').control == "status"  # new types are ignored
    error = {"type": "error", "message": "Failed to subscribe", "reason": "DOGE-USD is not a valid product"}
    assert c.parse(dumps(error)) == Parsed(control="error", unlisted=("DOGE",))


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ("not json", "bad_json"),
        ('{"product_id": "BTC-USD"}', "unexpected_frame"),
        ("[]", "unexpected_frame"),
        (dumps(COINBASE_TICKER | {"product_id": "ETH-EUR"}), "unknown_pair"),
        (dumps(COINBASE_TICKER | {"price": None}), "bad_price"),
        (dumps(COINBASE_TICKER | {"price": "inf"}), "bad_price"),
        (dumps(COINBASE_TICKER | {"time": "yesterday"}), "bad_timestamp"),
        (dumps(COINBASE_TICKER | {"time": "2022-10-19T23:28:22"}), "bad_timestamp"),  # no zone
    ],
)
def test_coinbase_malformed_frames_are_refused_by_reason(frame, reason):
    assert refused(Coinbase().parse, frame) == reason


# --- Kraken -----------------------------------------------------------------------------------
KRAKEN_TICKER = [  # the documented v1 ticker
    0,
    {
        "a": ["5525.40000", 1, "1.000"],
        "b": ["5525.10000", 1, "1.000"],
        "c": ["5525.10000", "0.00398963"],
        "v": ["2634.11501494", "3591.17907851"],
        "p": ["5631.44067", "5653.78939"],
        "t": [11493, 16267],
        "l": ["5505.00000", "5505.00000"],
        "h": ["5783.00000", "5783.00000"],
        "o": ["5760.70000", "5763.40000"],
    },
    "ticker",
    "XBT/USD",
]
KRAKEN_TRADE = [
    0,
    [
        ["5541.20000", "0.15850568", "1534614057.321597", "s", "l", ""],
        ["6060.00000", "0.02455000", "1534614057.324998", "b", "l", ""],
    ],
    "trade",
    "XBT/USD",
]


def test_kraken_ticker_is_the_last_trade_without_a_time():
    assert Kraken().parse(dumps(KRAKEN_TICKER)) == Parsed((Tick("BTC", 5525.1, None),))
    doge = [*KRAKEN_TICKER[:3], "XDG/USD"]
    assert Kraken().parse(dumps(doge)).ticks[0].symbol == "DOGE"


def test_kraken_trades_each_at_its_time():
    ticks = Kraken("trade").parse(dumps(KRAKEN_TRADE)).ticks
    assert [(t.symbol, t.price) for t in ticks] == [("BTC", 5541.2), ("BTC", 6060.0)]
    assert ticks[0].event_time == datetime.fromtimestamp(1534614057.321597, UTC)


def test_kraken_subscribe_message_uses_its_own_names():
    (message,) = Kraken().subscribe(["BTC", "DOGE", "BNB"])
    assert orjson.loads(message) == {
        "event": "subscribe",
        "pair": ["XBT/USD", "XDG/USD"],
        "subscription": {"name": "ticker"},
    }


def test_kraken_control_messages():
    k = Kraken()
    status = {
        "connectionID": 8628615390848610000,
        "event": "systemStatus",
        "status": "online",
        "version": "1.0.0",
    }
    assert k.parse(dumps(status)) == Parsed(control="systemStatus")
    subscribed = {
        "channelID": 10001,
        "channelName": "ticker",
        "event": "subscriptionStatus",
        "pair": "XBT/USD",
        "status": "subscribed",
        "subscription": {"name": "ticker"},
    }
    assert k.parse(dumps(subscribed)) == Parsed(control="subscriptionStatus")
    refused_pair = {
        "errorMessage": "Currency pair not supported XDG/USD",
        "event": "subscriptionStatus",
        "pair": "XDG/USD",
        "status": "error",
        "subscription": {"name": "ticker"},
    }
    assert k.parse(dumps(refused_pair)) == Parsed(control="subscription_error", unlisted=("DOGE",))
    listed = refused_pair | {"pair": ["XDG/USD"]}  # not Kraken's shape: names no pair, raises nothing
    assert k.parse(dumps(listed)) == Parsed(control="subscription_error")
    assert k.parse('{"event": "heartbeat"}') == Parsed(control="heartbeat")


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ("[0, {}", "bad_json"),
        ('{"status": "online"}', "unexpected_frame"),
        (dumps(KRAKEN_TICKER[:3]), "unexpected_frame"),
        (dumps([0, {"a": []}, "ticker", "XBT/USD"]), "unexpected_frame"),
        (dumps([0, {}, "book-10", "XBT/USD"]), "unexpected_frame"),
        (dumps([0, [["5541.2", "0.1"]], "trade", "XBT/USD"]), "unexpected_frame"),
        (dumps([0, [], "trade", "XBT/USD"]), "unexpected_frame"),  # no trade in it
        (dumps([*KRAKEN_TICKER[:3], "XBT/EUR"]), "unknown_pair"),
        (dumps([0, {"c": ["lots", "1"]}, "ticker", "XBT/USD"]), "bad_price"),
        (dumps([0, [["5541.2", "0.1", "noon", "s", "l", ""]], "trade", "XBT/USD"]), "bad_timestamp"),
    ],
)
def test_kraken_malformed_frames_are_refused_by_reason(frame, reason):
    assert refused(Kraken("trade").parse, frame) == reason


# --- every adapter ----------------------------------------------------------------------------
def test_each_exchange_is_a_source_of_the_contract():
    for name in ("binance", "coinbase", "kraken"):
        assert name in SOURCES and adapter(name).name == name
        assert make_quote("BTC", 1.0, datetime(2026, 1, 1, tzinfo=UTC), source=name).source == name
    with pytest.raises(ValueError):
        adapter("bitfinex")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=6), inner, max_size=5),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(st.binary(max_size=120), JSON.map(dumps)), st.sampled_from(["binance", "coinbase", "kraken"])
)
def test_any_frame_parses_or_is_refused_with_a_reason(frame, name):
    try:
        parsed = adapter(name).parse(frame)
    except FrameError as exc:
        assert exc.reason in FRAME_REASONS
    else:
        assert isinstance(parsed, Parsed)
