"""Each adapter reads its subscribed channel's frames in their documented shape with a typed msgspec
decoder (`base.typed`), and anything else with `parse_any`: on any frame, documented or changed
anywhere (a field replaced, removed or added, a number orjson refuses or reads as a float, the frame
too large), `parse` says what `parse_any` says, the ticks or the refusal with its reason."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cryptoviz.scraper.sources.streams import Binance, Coinbase, Kraken
from cryptoviz.scraper.sources.streams.base import MAX_FRAME_BYTES, FrameError
from cryptoviz.testing.exchange_frames import binance_frame, coinbase_ticker, kraken_ticker, kraken_trade

MS = 1_767_225_600_123
TRADE_2 = ["0.12100", "2.5", "1767225601.5", "s", "m", ""]
ADAPTERS: dict[str, tuple[Any, Any]] = {  # (adapter, frame body)
    "binance trade": (Binance("trade"), binance_frame("BTCUSDT", "trade", "87000.12", MS, 7)),
    "binance bookTicker": (Binance("bookTicker"), binance_frame("ETHUSDT", "bookTicker", "2950.5", MS, 7)),
    "binance kline_1m": (Binance("kline_1m"), binance_frame("SOLUSDT", "kline_1m", "123.4", MS, 7)),
    "coinbase ticker": (Coinbase(), coinbase_ticker("ETH-USD", "2950.55", MS, 7)),
    "kraken ticker": (Kraken("ticker"), kraken_ticker(340, "XBT/USD", "87000.10000")),
    "kraken trade": (  # two trades in one frame
        Kraken("trade"),
        [
            341,
            [kraken_trade(341, "XDG/USD", "0.12000", 1767225600.123456)[1][0], TRADE_2],
            "trade",
            "XDG/USD",
        ],
    ),
}
RAW = "\u0000raw:"  # a string replaced in the frame's text by the literal after it
LITERALS = ["1e400", "-1e400", "1" + "0" * 30, "18446744073709551615", "-9223372036854775809", "1.0", "-0"]


def outcome(parse, frame: str | bytes) -> object:
    """What `parse` made of the frame, leaving out whether the typed decoder read it."""
    try:
        return msgspec.structs.replace(parse(frame), untyped=False)
    except FrameError as exc:
        return ("refused", exc.reason, exc.detail)


def text(body: object) -> str:
    out = json.dumps(body, separators=(",", ":"))
    for literal in LITERALS:
        out = out.replace(json.dumps(RAW + literal), literal)
    return out


def assert_alike(adapter: Any, frame: str | bytes) -> None:
    assert outcome(adapter.parse, frame) == outcome(adapter.parse_any, frame)


@pytest.mark.parametrize("name", ADAPTERS)
def test_a_documented_frame_is_read_typed_alike(name):
    adapter, body = ADAPTERS[name]
    frame = text(body)
    assert adapter._typed(frame) is not None
    assert_alike(adapter, frame)
    assert adapter.parse(frame).ticks and not adapter.parse(frame).untyped


@pytest.mark.parametrize("name", [n for n in ADAPTERS if n != "kraken trade"])  # one with an object
def test_ticks_in_a_frame_with_a_field_its_shape_does_not_list_are_marked_untyped(name):
    adapter, body = ADAPTERS[name]
    at = next(p for p in paths(body) if isinstance(value_at(body, p), dict))
    frame = text(put(body, at, 1, -1))  # a field "extra" added to it
    assert adapter._typed(frame) is None
    assert adapter.parse(frame).untyped and adapter.parse(frame).ticks == adapter.parse(text(body)).ticks


@pytest.mark.parametrize("name", ADAPTERS)
def test_a_frame_too_large_as_bytes_or_not_utf8_is_read_alike(name):
    adapter, body = ADAPTERS[name]
    frame = text(body)
    padded = frame[:-1] + " " * (MAX_FRAME_BYTES - len(frame) + 1) + frame[-1]  # the same frame, too large
    assert outcome(adapter.parse, padded) == ("refused", "too_large", f"{len(padded)} > {MAX_FRAME_BYTES}")
    assert outcome(adapter.parse, frame.encode()) == outcome(adapter.parse_any, frame)
    not_utf8 = frame.encode().replace(b'"', b'"\xff', 2)
    assert outcome(adapter.parse, not_utf8) == outcome(adapter.parse_any, not_utf8)


OTHERS: list[
    object
] = [  # what a value may be instead: numbers orjson refuses or reads otherwise, other names
    *(RAW + literal for literal in LITERALS),
    *("1.5", "abc", "", None, True, 7, 2.5, [], {}),
    *("btcusdt@depth", "btcusdt@trade", "ethusdt@bookTicker", "solusdt@kline_5m", "heartbeat", "error"),
    *("ticker", "trade", "book-10", "BTCUSDT", "FOOUSDT", "XBT/USD", "XBT/EUR", "ETH-USD", "ETH-EUR"),
]


@pytest.mark.parametrize("name", ADAPTERS)
def test_a_frame_with_any_value_replaced_removed_or_added_is_read_alike(name):
    adapter, body = ADAPTERS[name]
    for path in paths(body):
        for value in OTHERS:
            for index in (0, -1):
                assert_alike(adapter, text(put(body, path, value, index)))
        assert_alike(adapter, text(put(body, path, None, 1)))


def paths(body: object, at: tuple = ()) -> list[tuple]:
    """Every path to a value inside `body` (keys and indexes)."""
    out = [at]
    if isinstance(body, dict):
        for k, v in body.items():
            out += paths(v, (*at, k))
    elif isinstance(body, list):
        for i, v in enumerate(body):
            out += paths(v, (*at, i))
    return out


def value_at(body: Any, path: tuple) -> Any:
    for step in path:
        body = body[step]
    return body


def put(body: Any, path: tuple, value: object, index: int = 0) -> Any:
    """A copy of `body` with the value at `path` replaced (value None and index 1: removed; index -1
    and a container at `path`: `value` added to it)."""
    body = orjson.loads(orjson.dumps(body))
    *parent_path, last = path or (None,)
    parent = body
    for step in parent_path:
        parent = parent[step]
    target = parent[last] if path else body
    if index == -1 and isinstance(target, dict):
        target["extra"] = value
    elif index == -1 and isinstance(target, list):
        target.append(value)
    elif index == 1 and path:
        del parent[last]
    elif path:
        parent[last] = value
    else:
        return value
    return body


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | st.sampled_from(["1.5", "nan", "inf", "trade", "ticker", "BTCUSDT", "XBT/USD", "btcusdt@depth"])
    | st.sampled_from([RAW + literal for literal in LITERALS]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(sorted(ADAPTERS)), st.data(), JSON, st.sampled_from([0, 1, -1]))
def test_a_frame_changed_anywhere_is_read_as_parse_any_reads_it(name, data, value, index):
    adapter, body = ADAPTERS[name]
    path = data.draw(st.sampled_from(paths(body)))
    assert_alike(adapter, text(put(body, path, value, index)))
