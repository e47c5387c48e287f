"""The one place that maps a ticker symbol to its name and to each upstream API's id."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Coin:
    symbol: str
    name: str
    coingecko_id: str


_COINS = (
    Coin("BTC", "Bitcoin", "bitcoin"),
    Coin("ETH", "Ethereum", "ethereum"),
    Coin("XRP", "XRP", "ripple"),
    Coin("USDT", "Tether", "tether"),
    Coin("BNB", "BNB", "binancecoin"),
    Coin("SOL", "Solana", "solana"),
    Coin("DOGE", "Dogecoin", "dogecoin"),
    Coin("ADA", "Cardano", "cardano"),
    Coin("TRX", "TRON", "tron"),
    Coin("LTC", "Litecoin", "litecoin"),
    Coin("DOT", "Polkadot", "polkadot"),
    Coin("AVAX", "Avalanche", "avalanche-2"),
    Coin("LINK", "Chainlink", "chainlink"),
    Coin("USDC", "USDC", "usd-coin"),
)

COINS: dict[str, Coin] = {c.symbol: c for c in _COINS}
BY_COINGECKO_ID: dict[str, Coin] = {c.coingecko_id: c for c in _COINS}
DEFAULT_COINS: tuple[str, ...] = ("BTC", "ETH", "XRP", "USDT", "BNB", "SOL", "DOGE")
