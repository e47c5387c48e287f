"""Binance spot market streams, combined: `<base>/stream?streams=btcusdt@trade/ethusdt@trade`, each
event wrapped as `{"stream": "<name>", "data": <payload>}`. The coin's USDT pair, USDT taken as USD
(as the history files do). Payloads as Binance's web-socket-streams documentation shows them:

- `<pair>@trade`: `{"e": "trade", "E": ms, "s": "BNBUSDT", "t": id, "p": "0.001", "q": "100",
  "T": ms (trade time), "m": bool, "M": bool}`: the price is `p`, the event time `T`
- `<pair>@bookTicker`: `{"u": id, "s": "BNBUSDT", "b": "25.35", "B": qty, "a": "25.36", "A": qty}`:
  the price is the mid of `b` and `a`; the frame has no time (the receive time stands in)
- `<pair>@kline_1m`: `{"e": "kline", "E": ms, "s": ..., "k": {"t", "T", "s", "i", "c": close, ...}}`:
  the price is the candle's close `k.c` so far, the event time `E`

Streams are named in the URL, so nothing is sent once connected; an answer to a live request
(`{"result": null, "id": 1}`) or an error (`{"code": 2, "msg": "..."}`) is a control message. One
connection carries at most 1024 streams and is closed by Binance after 24 hours. An IP may make 300
connection attempts every 5 minutes; a client sends at most 5 messages a second (nothing is sent
here but the pongs websockets answers pings with).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Generic, TypeVar

import msgspec

from cryptoviz.scraper.sources.streams.base import (
    FrameError,
    Int,
    PairAdapter,
    Parsed,
    Tick,
    checked_channel,
    epoch_time,
    load,
    price,
    typed,
)
from cryptoviz.scraper.sources.streams.limits import ConnectLimit

MAX_STREAMS = 1024
CHANNELS = ("trade", "bookTicker", "kline_1m")
# every coin of the registry but USDT (no USDT/USDT pair); USDC/USDT gives USDC's price in USD
PAIRS = {
    s: f"{s}USDT"
    for s in ("BTC", "ETH", "XRP", "BNB", "SOL", "DOGE", "ADA", "TRX", "LTC", "DOT", "AVAX", "LINK", "USDC")
}

P = TypeVar("P")


# --- the payloads as documented, every field, for `base.typed` ---------------------------------
class Trade(msgspec.Struct, forbid_unknown_fields=True):
    e: str
    E: Int
    s: str
    t: Int
    p: str
    q: str
    T: Int
    m: bool
    M: bool


class BookTicker(msgspec.Struct, forbid_unknown_fields=True):
    u: Int
    s: str
    b: str
    B: str
    a: str
    A: str


class Candle(msgspec.Struct, forbid_unknown_fields=True):
    t: Int
    T: Int
    s: str
    i: str
    f: Int
    L: Int
    o: str
    c: str
    h: str
    l: str  # noqa: E741 (Binance's name for the low)
    v: str
    n: Int
    x: bool
    q: str
    V: str
    Q: str
    B: str


class Kline(msgspec.Struct, forbid_unknown_fields=True):
    e: str
    E: Int
    s: str
    k: Candle


class Combined(msgspec.Struct, Generic[P], forbid_unknown_fields=True):
    stream: str
    data: P


TRADE = msgspec.json.Decoder(Combined[Trade])
BOOK_TICKER = msgspec.json.Decoder(Combined[BookTicker])
KLINE = msgspec.json.Decoder(Combined[Kline])


class Binance(PairAdapter):
    name = "binance"
    connects = ConnectLimit(300, 300.0)

    def __init__(self, channel: str = "trade") -> None:
        super().__init__(PAIRS)
        self.channel = checked_channel(channel, CHANNELS)

    def streams(self, symbols: Collection[str]) -> list[str]:
        names = [f"{pair.lower()}@{self.channel}" for pair in self.pairs.pairs(symbols)]
        if len(names) > MAX_STREAMS:
            raise ValueError(f"{len(names)} streams: one connection carries at most {MAX_STREAMS}")
        return names

    def url(self, base: str, symbols: Collection[str]) -> str:
        return f"{base.rstrip('/')}/stream?streams={'/'.join(self.streams(symbols))}"

    def subscribe(self, symbols: Collection[str]) -> list[str]:
        return []

    def _typed(self, frame: str | bytes) -> Parsed | None:
        """The frame's tick if it is an event of the subscribed channel in its documented shape (what
        parse_any makes of it, in fewer steps); else None."""
        channel = self.channel
        if channel == "trade":
            trade = typed(TRADE, frame)
            if trade is None or trade.stream.partition("@")[2] != channel:
                return None
            t = trade.data
            return Parsed((Tick(self.pairs.symbol(t.s), price(t.p), epoch_time(t.T, 1000)),))
        if channel == "bookTicker":
            book = typed(BOOK_TICKER, frame)
            if book is None or book.stream.partition("@")[2] != channel:
                return None
            symbol, b = self.pairs.symbol(book.data.s), book.data
            bid, ask = price(b.b, "b"), price(b.a, "a")
            return Parsed((Tick(symbol, (bid + ask) / 2, None),))
        kline = typed(KLINE, frame)
        if kline is None or not kline.stream.partition("@")[2].startswith("kline_"):
            return None
        k = kline.data
        return Parsed((Tick(self.pairs.symbol(k.s), price(k.k.c, "k.c"), epoch_time(k.E, 1000)),))

    def parse_any(self, frame: str | bytes) -> Parsed:
        """Any frame: its ticks or control message, or FrameError with the reason."""
        data = load(frame)
        if not isinstance(data, dict):
            raise FrameError("unexpected_frame", f"a JSON {type(data).__name__}")
        if "result" in data and "id" in data:
            return Parsed(control="response")
        if "code" in data and "msg" in data:
            return Parsed(control="error")
        stream, payload = data.get("stream"), data.get("data")
        if not isinstance(stream, str) or not isinstance(payload, dict):
            raise FrameError("unexpected_frame", "no stream and data")
        symbol = self.pairs.symbol(payload.get("s"))
        kind = stream.partition("@")[2]
        if kind == "trade":
            return Parsed((Tick(symbol, price(payload.get("p")), epoch_time(payload.get("T"), 1000)),))
        if kind == "bookTicker":
            bid, ask = price(payload.get("b"), "b"), price(payload.get("a"), "a")
            return Parsed((Tick(symbol, (bid + ask) / 2, None),))
        if kind.startswith("kline_"):
            candle = payload.get("k")
            if not isinstance(candle, dict):
                raise FrameError("unexpected_frame", "kline without k")
            return Parsed((Tick(symbol, price(candle.get("c"), "k.c"), epoch_time(payload.get("E"), 1000)),))
        raise FrameError("unexpected_frame", f"stream {stream[:40]!r}")
