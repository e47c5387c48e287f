"""Exchange WebSocket streams as a price source: an adapter per exchange (pure parsers), one
connection loop over `websockets`, and the per-coin failover between them."""

from __future__ import annotations

from cryptoviz.scraper.sources.streams.base import StreamAdapter
from cryptoviz.scraper.sources.streams.binance import Binance
from cryptoviz.scraper.sources.streams.coinbase import Coinbase
from cryptoviz.scraper.sources.streams.kraken import Kraken


def adapter(name: str) -> StreamAdapter:
    """The adapter of an exchange by its source name (binance, coinbase, kraken)."""
    adapters: dict[str, type[Binance] | type[Coinbase] | type[Kraken]] = {
        "binance": Binance,
        "coinbase": Coinbase,
        "kraken": Kraken,
    }
    if name not in adapters:
        raise ValueError(f"unknown stream source {name!r}: one of {', '.join(adapters)}")
    return adapters[name]()


__all__ = ["Binance", "Coinbase", "Kraken", "StreamAdapter", "adapter"]
