"""Data frames as the exchanges' documentation shows them, for the local exchange server
(`cryptoviz.testing.exchange_ws`) and tests: Binance spot combined-stream events, Coinbase Exchange
ticker and heartbeat messages, Kraken v1 ticker arrays. Prices are decimal strings, as the exchanges
write them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cryptoviz.testing.coingecko import MINUTE_MS


def num(value: float, decimals: int = 8) -> str:
    """A price as the exchanges write it: a decimal string."""
    return f"{value:.{decimals}f}"


KRAKEN_FIRST_CHANNEL = 340


def binance_frame(pair: str, channel: str, price: str, ms: int, ident: int) -> dict:
    """A combined-stream event of Binance spot: trade, bookTicker or kline_<interval>."""
    data: dict[str, Any]
    if channel == "bookTicker":
        data = {"u": ident, "s": pair, "b": price, "B": "1.50000000", "a": price, "A": "2.00000000"}
    elif channel.startswith("kline_"):
        start = ms // MINUTE_MS * MINUTE_MS
        candle = {
            "t": start,
            "T": start + MINUTE_MS - 1,
            "s": pair,
            "i": channel.partition("_")[2],
            "f": ident,
            "L": ident,
            "o": price,
            "c": price,
            "h": price,
            "l": price,
            "v": "1.00000000",
            "n": 1,
            "x": False,
            "q": price,
            "V": "0.50000000",
            "Q": "0.50000000",
            "B": "0",
        }
        data = {"e": "kline", "E": ms, "s": pair, "k": candle}
    else:
        data = {
            "e": "trade",
            "E": ms,
            "s": pair,
            "t": ident,
            "p": price,
            "q": "0.00100000",
            "T": ms,
            "m": True,
            "M": True,
        }
    return {"stream": f"{pair.lower()}@{channel}", "data": data}


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def coinbase_ticker(product: str, price: str, ms: int, seq: int) -> dict:
    """A Coinbase Exchange `ticker` message, every documented field."""
    return {
        "type": "ticker",
        "sequence": seq,
        "product_id": product,
        "price": price,
        "open_24h": price,
        "volume_24h": "1000.00000000",
        "low_24h": price,
        "high_24h": price,
        "volume_30d": "30000.00000000",
        "best_bid": price,
        "best_bid_size": "0.50000000",
        "best_ask": price,
        "best_ask_size": "0.50000000",
        "side": "buy",
        "time": _iso(ms),
        "trade_id": seq,
        "last_size": "0.00100000",
    }


def coinbase_heartbeat(product: str, ms: int, seq: int) -> dict:
    return {
        "type": "heartbeat",
        "sequence": seq,
        "last_trade_id": seq,
        "product_id": product,
        "time": _iso(ms),
    }


def kraken_ticker(channel_id: int, pair: str, price: str) -> list:
    """A Kraken v1 ticker array: [channelID, {a, b, c, v, p, t, l, h, o}, "ticker", pair]."""
    body = {
        "a": [price, 1, "1.000"],
        "b": [price, 1, "1.000"],
        "c": [price, "0.00100000"],
        "v": ["100.00000000", "200.00000000"],
        "p": [price, price],
        "t": [10, 20],
        "l": [price, price],
        "h": [price, price],
        "o": [price, price],
    }
    return [channel_id, body, "ticker", pair]


def kraken_trade(channel_id: int, pair: str, price: str, seconds: float) -> list:
    """A Kraken v1 trade array of one trade: [channelID, [[price, volume, time, side, orderType,
    misc]], "trade", pair], the time in epoch seconds as a decimal string."""
    return [channel_id, [[price, "0.00100000", f"{seconds:.6f}", "b", "l", ""]], "trade", pair]
