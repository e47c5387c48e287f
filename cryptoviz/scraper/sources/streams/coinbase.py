"""Coinbase Exchange's WebSocket feed (`wss://ws-feed.exchange.coinbase.com`): the `ticker` channel
of the coin's USD pair (`BTC-USD`), and the `heartbeat` channel, which sends a frame a second per
product, so a quiet pair is no stalled connection. Messages as the Exchange documentation shows them:

- subscribe (sent once connected, mandatory within 5 s): `{"type": "subscribe", "product_ids":
  [...], "channels": ["ticker", "heartbeat"]}`; answered `{"type": "subscriptions", "channels":
  [{"name": "ticker", "product_ids": [...]}, ...]}`
- ticker: `{"type": "ticker", "sequence", "product_id": "ETH-USD", "price": "1285.22", "open_24h",
  "volume_24h", "low_24h", "high_24h", "volume_30d", "best_bid", "best_bid_size", "best_ask",
  "best_ask_size", "side", "time": "2022-10-19T23:28:22.061769Z", "trade_id", "last_size"}`: the
  price is `price`, the event time `time` (when a ticker comes without one, the receive time)
- heartbeat: `{"type": "heartbeat", "sequence", "last_trade_id", "product_id", "time"}`
- error: `{"type": "error", "message": "Failed to subscribe", "reason": "XYZ-USD is not a valid
  product"}`: the coins the reason names are unlisted. The feed then ignores that subscribe message
  as a whole, the valid products in it too, so the connection subscribes again without them

New message types may be added at any time and are to be ignored: they are control messages here.
Limits (per IP): 8 requests a second, bursts up to 20; 100 messages a second from the client. One
subscribe message is sent per connection, and one more after each refusal.
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
    iso_time,
    load,
    price,
    typed,
)
from cryptoviz.scraper.sources.streams.limits import ConnectLimit

PAIRS = {
    s: f"{s}-USD" for s in ("BTC", "ETH", "XRP", "USDT", "SOL", "DOGE", "ADA", "LTC", "DOT", "AVAX", "LINK")
}


class Ticker(msgspec.Struct, forbid_unknown_fields=True):
    """A ticker message as documented, every field, for `base.typed`."""

    type: str
    sequence: Int
    product_id: str
    price: str
    open_24h: str
    volume_24h: str
    low_24h: str
    high_24h: str
    volume_30d: str
    best_bid: str
    best_bid_size: str
    best_ask: str
    best_ask_size: str
    side: str
    time: str
    trade_id: Int
    last_size: str


TICKER = msgspec.json.Decoder(Ticker)


class Coinbase(PairAdapter):
    name = "coinbase"
    connects = ConnectLimit(8, 1.0)
    refusal_voids_subscription = True

    def __init__(self) -> None:
        super().__init__(PAIRS)

    def subscribe(self, symbols: Collection[str]) -> list[str]:
        body = {
            "type": "subscribe",
            "product_ids": self.pairs.pairs(symbols),
            "channels": ["ticker", "heartbeat"],
        }
        return [orjson.dumps(body).decode()]

    def _typed(self, frame: str | bytes) -> Parsed | None:
        """The frame's tick if it is a ticker in its documented shape (what parse_any makes of it,
        in fewer steps); else None."""
        ticker = typed(TICKER, frame)
        if ticker is None or ticker.type != "ticker":
            return None
        symbol = self.pairs.symbol(ticker.product_id)
        return Parsed((Tick(symbol, price(ticker.price), iso_time(ticker.time)),))

    def parse_any(self, frame: str | bytes) -> Parsed:
        """Any frame: its ticks or control message, or FrameError with the reason."""
        data = load(frame)
        if not isinstance(data, dict) or not isinstance(data.get("type"), str):
            raise FrameError("unexpected_frame", "no type")
        kind = data["type"]
        if kind == "ticker":
            symbol = self.pairs.symbol(data.get("product_id"))
            when = data.get("time")
            return Parsed((Tick(symbol, price(data.get("price")), None if when is None else iso_time(when)),))
        if kind == "error":
            said = f"{data.get('message', '')} {data.get('reason', '')}"
            return Parsed(control="error", unlisted=tuple(s for s, p in PAIRS.items() if p in said.split()))
        return Parsed(control=kind[:40])  # subscriptions, heartbeat, and what the feed may add
