"""Kraken's WebSocket API v1 (`wss://ws.kraken.com`): the `ticker` channel (or `trade`) of the coin's
USD pair, in Kraken's v1 names (`XBT/USD`, `XDG/USD` for DOGE). Messages as Kraken's v1
documentation shows them:

- on connect: `{"event": "systemStatus", "connectionID", "status": "online", "version"}`
- subscribe: `{"event": "subscribe", "pair": ["XBT/USD", ...], "subscription": {"name": "ticker"}}`;
  answered per pair `{"channelID", "channelName": "ticker", "event": "subscriptionStatus", "pair",
  "status": "subscribed" | "error", "errorMessage", "subscription": {"name": "ticker"}}`: a pair
  answered "error" is unlisted
- ticker: `[channelID, {"a": [price, wholeLot, lot], "b": [...], "c": [price, lot], "v": [today,
  24h], "p", "t", "l", "h", "o"}, "ticker", "XBT/USD"]`: the price is the last trade's `c[0]`; the
  frame has no time (the receive time stands in)
- trade: `[channelID, [[price, volume, time (epoch seconds as a decimal string), side, orderType,
  misc], ...], "trade", "XBT/USD"]`: every trade's price at its time
- `{"event": "heartbeat"}` about once a second while nothing else is sent

Limits: about 150 connection attempts per IP in any 10 minutes (over that, the IP is banned for 10
minutes); no fixed message rate (an `Exceeded msg rate` error answers too many): one subscribe
message is sent per connection.
"""

from __future__ import annotations

from collections.abc import Collection

import msgspec
import orjson

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

NAMES = {"BTC": "XBT", "DOGE": "XDG"}  # Kraken's v1 names where they are not the ticker
PAIRS = {
    s: f"{NAMES.get(s, s)}/USD"
    for s in ("BTC", "ETH", "XRP", "USDT", "SOL", "DOGE", "ADA", "TRX", "LTC", "DOT", "AVAX", "LINK", "USDC")
}
CHANNELS = ("ticker", "trade")
Two = tuple[str, str]


# --- the data arrays as documented, every field, for `base.typed` ------------------------------
class TickerBody(msgspec.Struct, forbid_unknown_fields=True):
    a: tuple[str, Int, str]
    b: tuple[str, Int, str]
    c: Two
    v: Two
    p: Two
    t: tuple[Int, Int]
    l: Two  # noqa: E741 (Kraken's name for the low)
    h: Two
    o: Two


class TickerArray(msgspec.Struct, array_like=True, forbid_unknown_fields=True):
    channel_id: Int
    body: TickerBody
    channel: str
    pair: str


class TradeArray(msgspec.Struct, array_like=True, forbid_unknown_fields=True):
    channel_id: Int
    trades: list[tuple[str, str, str, str, str, str]]  # price, volume, time, side, orderType, misc
    channel: str
    pair: str


TICKER = msgspec.json.Decoder(TickerArray)
TRADE = msgspec.json.Decoder(TradeArray)


class Kraken(PairAdapter):
    name = "kraken"
    connects = ConnectLimit(150, 600.0)

    def __init__(self, channel: str = "ticker") -> None:
        super().__init__(PAIRS)
        self.channel = checked_channel(channel, CHANNELS)

    def subscribe(self, symbols: Collection[str]) -> list[str]:
        body = {
            "event": "subscribe",
            "pair": self.pairs.pairs(symbols),
            "subscription": {"name": self.channel},
        }
        return [orjson.dumps(body).decode()]

    def _typed(self, frame: str | bytes) -> Parsed | None:
        """The frame's ticks if it is data of the subscribed channel in its documented shape (what
        parse_any makes of it, in fewer steps); else None."""
        if self.channel == "ticker":
            ticker = typed(TICKER, frame)
            if ticker is None or ticker.channel != "ticker":
                return None
            return Parsed((Tick(self.pairs.symbol(ticker.pair), price(ticker.body.c[0], "c"), None),))
        trade = typed(TRADE, frame)
        if trade is None or trade.channel != "trade" or not trade.trades:  # no trade: parse_any says
            return None
        symbol = self.pairs.symbol(trade.pair)
        return Parsed(tuple(Tick(symbol, price(t[0]), epoch_time(t[2], 1)) for t in trade.trades))

    def parse_any(self, frame: str | bytes) -> Parsed:
        """Any frame: its ticks or control message, or FrameError with the reason."""
        data = load(frame)
        if isinstance(data, dict):
            return self._event(data)
        if not isinstance(data, list) or len(data) != 4 or not isinstance(data[2], str):
            raise FrameError("unexpected_frame", "not [channelID, payload, channel, pair]")
        symbol = self.pairs.symbol(data[3])
        if data[2] == "ticker":
            last = data[1].get("c") if isinstance(data[1], dict) else None
            if not isinstance(last, list) or not last:
                raise FrameError("unexpected_frame", "ticker without c")
            return Parsed((Tick(symbol, price(last[0], "c"), None),))
        if data[2] == "trade" and isinstance(data[1], list) and data[1]:
            return Parsed(tuple(self._trade(symbol, t) for t in data[1]))
        raise FrameError("unexpected_frame", f"channel {data[2][:20]!r}")

    def _trade(self, symbol: str, trade: object) -> Tick:
        if not isinstance(trade, list) or len(trade) < 3:
            raise FrameError("unexpected_frame", "a trade that is not [price, volume, time, ...]")
        return Tick(symbol, price(trade[0]), epoch_time(trade[2], 1))

    def _event(self, data: dict) -> Parsed:
        event = data.get("event")
        if not isinstance(event, str):
            raise FrameError("unexpected_frame", "an object without event")
        if event == "subscriptionStatus" and data.get("status") == "error":
            pair = data.get("pair")  # a string in Kraken's answers; anything else names no pair
            unlisted = (
                (self.pairs.to_symbol[pair],)
                if isinstance(pair, str) and pair in self.pairs.to_symbol
                else ()
            )
            return Parsed(control="subscription_error", unlisted=unlisted)
        return Parsed(control=event[:40])  # systemStatus, subscriptionStatus, heartbeat, pong
