"""The quote message: one schema, its JSON encoding and its validator.

Every producer encodes with `encode`, every consumer decodes with `decode`; the Spark job derives its
schema from `FIELDS`. A message that does not pass raises `InvalidQuote` with a short reason code,
which is what the dead-letter topic, the quarantine and the counters record.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson

from cryptoviz.coins import COINS

SCHEMA_VERSION = 1
SOURCES = frozenset({"coingecko", "coinmarketcap", "replay", "backfill", "test"})
MAX_PRICE_USD = 1e7  # no listed coin trades near this; larger values are corrupt
MAX_AMOUNT_USD = 1e14  # market cap or volume
MAX_FUTURE = timedelta(minutes=5)

# name -> (python type, nullable); the order is the wire order and the lake's column order
FIELDS: dict[str, tuple[type, bool]] = {
    "schema_version": (int, False),
    "symbol": (str, False),
    "name": (str, False),
    "price_usd": (float, False),
    "market_cap_usd": (float, True),
    "volume_24h_usd": (float, True),
    "change_24h_pct": (float, True),
    "source": (str, False),
    "source_ts": (datetime, False),
    "ingest_ts": (datetime, False),
}


class InvalidQuote(ValueError):
    """A message that is not a valid quote; `reason` is a short code for counters and the DLQ."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Quote:
    symbol: str
    name: str
    price_usd: float
    market_cap_usd: float | None
    volume_24h_usd: float | None
    change_24h_pct: float | None
    source: str
    source_ts: datetime
    ingest_ts: datetime
    schema_version: int = SCHEMA_VERSION

    @property
    def event_time(self) -> float:
        """Event time in epoch seconds (the upstream timestamp)."""
        return self.source_ts.timestamp()


def utcnow() -> datetime:
    return datetime.now(UTC)


def format_ts(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_ts(value: object, field: str) -> datetime:
    if not isinstance(value, str):
        raise InvalidQuote("bad_type", f"{field} must be an ISO 8601 string")
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidQuote("bad_timestamp", f"{field}={value[:40]!r}") from None
    if ts.tzinfo is None:
        raise InvalidQuote("bad_timestamp", f"{field} has no time zone")
    return ts.astimezone(UTC)


def _number(data: dict, field: str, nullable: bool) -> float | None:
    value = data[field]
    if value is None:
        if nullable:
            return None
        raise InvalidQuote("missing_field", f"{field} is null")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidQuote("bad_type", f"{field} must be a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise InvalidQuote("not_finite", field)
    return value


def validate(data: object, symbols: Collection[str] | None = None, now: datetime | None = None) -> Quote:
    """Check a decoded message and build the Quote, or raise InvalidQuote with the reason.

    `symbols` is the accepted symbol set (default: every coin the registry knows).
    """
    if not isinstance(data, dict):
        raise InvalidQuote("not_an_object")
    missing = [f for f in FIELDS if f not in data]
    if missing:
        raise InvalidQuote("missing_field", ", ".join(missing))
    if data["schema_version"] != SCHEMA_VERSION:
        raise InvalidQuote("bad_schema_version", repr(data["schema_version"])[:20])
    symbol = data["symbol"]
    if not isinstance(symbol, str) or symbol not in (COINS if symbols is None else symbols):
        raise InvalidQuote("unknown_symbol", repr(symbol)[:40])
    name, source = data["name"], data["source"]
    if not isinstance(name, str) or not name:
        raise InvalidQuote("bad_type", "name must be a non-empty string")
    if source not in SOURCES:
        raise InvalidQuote("unknown_source", repr(source)[:40])
    price = _number(data, "price_usd", nullable=False)
    assert price is not None
    if price <= 0:
        raise InvalidQuote("price_not_positive", str(price))
    if price > MAX_PRICE_USD:
        raise InvalidQuote("out_of_range", f"price_usd={price}")
    market_cap = _number(data, "market_cap_usd", nullable=True)
    volume = _number(data, "volume_24h_usd", nullable=True)
    for field, amount in (("market_cap_usd", market_cap), ("volume_24h_usd", volume)):
        if amount is not None and not 0 <= amount <= MAX_AMOUNT_USD:
            raise InvalidQuote("out_of_range", f"{field}={amount}")
    change = _number(data, "change_24h_pct", nullable=True)
    if change is not None and not -100 <= change <= 1e6:
        raise InvalidQuote("out_of_range", f"change_24h_pct={change}")
    source_ts = parse_ts(data["source_ts"], "source_ts")
    ingest_ts = parse_ts(data["ingest_ts"], "ingest_ts")
    if source_ts > (now or ingest_ts) + MAX_FUTURE:
        raise InvalidQuote("future_timestamp", format_ts(source_ts))
    return Quote(symbol, name, price, market_cap, volume, change, source, source_ts, ingest_ts)


def to_dict(quote: Quote) -> dict:
    """The wire form, fields in FIELDS order (read straight off the slots: asdict deep-copies)."""
    return {
        f: format_ts(getattr(quote, f)) if f in ("source_ts", "ingest_ts") else getattr(quote, f)
        for f in FIELDS
    }


def encode(quote: Quote) -> bytes:
    return orjson.dumps(to_dict(quote))


def decode(raw: bytes | str | None, symbols: Collection[str] | None = None) -> Quote:
    """Parse and validate one message value."""
    if not raw:
        raise InvalidQuote("empty_message")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidQuote("bad_json") from None
    return validate(data, symbols)


def make_quote(
    symbol: str,
    price_usd: float,
    source_ts: datetime,
    *,
    source: str = "test",
    market_cap_usd: float | None = None,
    volume_24h_usd: float | None = None,
    change_24h_pct: float | None = None,
    ingest_ts: datetime | None = None,
) -> Quote:
    """Build a quote from parts, through the validator, so that no invalid quote is ever built."""
    coin = COINS.get(symbol)
    data = {
        "schema_version": SCHEMA_VERSION,
        "symbol": symbol,
        "name": coin.name if coin else symbol,
        "price_usd": price_usd,
        "market_cap_usd": market_cap_usd,
        "volume_24h_usd": volume_24h_usd,
        "change_24h_pct": change_24h_pct,
        "source": source,
        "source_ts": format_ts(source_ts),
        "ingest_ts": format_ts(ingest_ts or utcnow()),
    }
    return validate(data, symbols=None if coin else {symbol})
