"""The quote message: one schema, its JSON encoding and its validator.

Every producer encodes with `encode`, every consumer decodes with `decode`; the Spark job derives its
schema from `FIELDS`. A message that does not pass raises `InvalidQuote` with a short reason code
from `REASONS`, which is what the dead-letter topic, the quarantine and the counters record.

`decode` is total: for any bytes it returns a Quote or raises InvalidQuote. Every field's type is
checked before it is used, and every value is bounded: the message size, string lengths and
characters, numbers finite and within range, timestamps between the first Bitcoin block and the
consumer's own clock plus `max_future_s` (never the message's own fields).
"""

from __future__ import annotations

import math
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import msgspec
import orjson

from cryptoviz.coins import COINS

SCHEMA_VERSION = 1
SOURCES = frozenset(
    {"coingecko", "coinmarketcap", "replay", "backfill", "test", "binance", "coinbase", "kraken"}
)
MAX_PRICE_USD = 1e7  # no listed coin trades near this; larger values are corrupt
MAX_AMOUNT_USD = 1e14  # market cap or volume
MAX_FUTURE_S = 300.0  # a quote may be dated this far past the consumer's clock (clock skew)
MAX_MESSAGE_BYTES = 16 * 1024  # a quote is about 300 bytes
MAX_NAME_CHARS = 64
MAX_TS_CHARS = 40
EARLIEST = datetime(2009, 1, 3, tzinfo=UTC)  # the first Bitcoin block: no crypto quote is older
_AHEAD = timedelta(seconds=MAX_FUTURE_S)

# Why a message was refused: the closed set every counter, DLQ record and quarantine row uses.
REASONS = frozenset(
    {
        "empty_message",
        "too_large",
        "bad_json",
        "not_an_object",
        "missing_field",
        "bad_schema_version",
        "unknown_symbol",
        "bad_type",
        "bad_string",
        "unknown_source",
        "not_finite",
        "price_not_positive",
        "out_of_range",
        "bad_timestamp",
        "too_old",
        "future_timestamp",
        "key_mismatch",
    }
)
# A consumer that hits an unexpected exception on one message records "internal_error:<Type>".
INTERNAL_ERROR = "internal_error"

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
# string field -> most characters (and at least one, all printable)
STRING_CHARS = {"symbol": 16, "name": MAX_NAME_CHARS}
# number field -> (lowest, highest) accepted, both included, except the lowest of a POSITIVE one
POSITIVE = frozenset({"price_usd"})
NUMBER_RANGES: dict[str, tuple[float, float]] = {
    "price_usd": (0.0, MAX_PRICE_USD),
    "market_cap_usd": (0.0, MAX_AMOUNT_USD),
    "volume_24h_usd": (0.0, MAX_AMOUNT_USD),
    "change_24h_pct": (-100.0, 1e6),
}


class InvalidQuote(ValueError):
    """A message that is not a valid quote; `reason` is a short code for counters and the DLQ."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class Quote(msgspec.Struct, frozen=True):
    """A valid quote (a msgspec Struct: built in C, about 15x faster than a frozen dataclass)."""

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


def internal_error(exc: BaseException) -> str:
    """The reason recorded for an unexpected exception while handling one message."""
    return f"{INTERNAL_ERROR}:{type(exc).__name__}"


def parse_ts(value: object, field: str) -> datetime:
    if not isinstance(value, str):
        raise InvalidQuote("bad_type", f"{field} must be an ISO 8601 string")
    if len(value) > MAX_TS_CHARS:
        raise InvalidQuote("bad_timestamp", f"{field} is {len(value)} characters")
    try:
        ts = datetime.fromisoformat(value)
        if ts.tzinfo is None:
            raise InvalidQuote("bad_timestamp", f"{field} has no time zone")
        # a valid ISO string can still overflow in UTC (0001-01-01T00:00:00+01:00)
        return ts.astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidQuote("bad_timestamp", f"{field}={value!r}") from None


def _in_time(ts: datetime, field: str, latest: datetime) -> datetime:
    if ts < EARLIEST:
        raise InvalidQuote("too_old", f"{field}={format_ts(ts)}")
    if ts > latest:
        raise InvalidQuote("future_timestamp", f"{field}={format_ts(ts)}")
    return ts


def _string(data: dict, field: str, max_chars: int) -> str:
    value = data[field]
    if not isinstance(value, str):
        raise InvalidQuote("bad_type", f"{field} must be a string, got {type(value).__name__}")
    if not 0 < len(value) <= max_chars or not value.isprintable():
        raise InvalidQuote(
            "bad_string", f"{field}: {len(value)} characters, printable: {value.isprintable()}"
        )
    return value


def _number(data: dict, field: str, nullable: bool) -> float | None:
    value = data[field]
    if value is None:
        if nullable:
            return None
        raise InvalidQuote("missing_field", f"{field} is null")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidQuote("bad_type", f"{field} must be a number, got {type(value).__name__}")
    try:
        value = float(value)
    except OverflowError:  # an integer past a float's range (Python's JSON reads any size)
        raise InvalidQuote("out_of_range", f"{field} has {len(str(value))} digits") from None
    if not math.isfinite(value):
        raise InvalidQuote("not_finite", field)
    return value


def _in_range(field: str, value: float | None) -> float | None:
    low, high = NUMBER_RANGES[field]
    if value is not None and not low <= value <= high:
        raise InvalidQuote("out_of_range", f"{field}={value}")
    return value


def validate(
    data: object,
    symbols: Collection[str] | None = None,
    now: datetime | None = None,
    max_future_s: float = MAX_FUTURE_S,
) -> Quote:
    """Check a decoded message and build the Quote, or raise InvalidQuote with the reason.

    `symbols` is the accepted symbol set (default: every coin the registry knows); `now` the
    consumer's clock (default: the wall clock), which no timestamp may pass by `max_future_s`.
    """
    if not isinstance(data, dict):
        raise InvalidQuote("not_an_object")
    missing = [f for f in FIELDS if f not in data]
    if missing:
        raise InvalidQuote("missing_field", ", ".join(missing))
    version = data["schema_version"]
    if type(version) is not int or version != SCHEMA_VERSION:  # True == 1, but is no version
        raise InvalidQuote("bad_schema_version", repr(version)[:20])
    symbol = _string(data, "symbol", STRING_CHARS["symbol"])
    if symbol not in (COINS if symbols is None else symbols):
        raise InvalidQuote("unknown_symbol", repr(symbol))
    name = _string(data, "name", STRING_CHARS["name"])
    source = data["source"]
    if not isinstance(source, str) or source not in SOURCES:
        raise InvalidQuote("unknown_source", repr(source)[:40])
    price = _number(data, "price_usd", nullable=False)
    assert price is not None
    if price <= NUMBER_RANGES["price_usd"][0]:  # POSITIVE
        raise InvalidQuote("price_not_positive", str(price))
    _in_range("price_usd", price)
    market_cap = _in_range("market_cap_usd", _number(data, "market_cap_usd", nullable=True))
    volume = _in_range("volume_24h_usd", _number(data, "volume_24h_usd", nullable=True))
    change = _in_range("change_24h_pct", _number(data, "change_24h_pct", nullable=True))
    latest = (now or utcnow()) + timedelta(seconds=max_future_s)
    source_ts = _in_time(parse_ts(data["source_ts"], "source_ts"), "source_ts", latest)
    ingest_ts = _in_time(parse_ts(data["ingest_ts"], "ingest_ts"), "ingest_ts", latest)
    return Quote(symbol, name, price, market_cap, volume, change, source, source_ts, ingest_ts)


def to_dict(quote: Quote) -> dict:
    """The wire form, fields in FIELDS order (read straight off the slots: asdict deep-copies)."""
    return {
        f: format_ts(getattr(quote, f)) if f in ("source_ts", "ingest_ts") else getattr(quote, f)
        for f in FIELDS
    }


def encode(quote: Quote) -> bytes:
    return orjson.dumps(to_dict(quote))


def decode(
    raw: bytes | str | None,
    symbols: Collection[str] | None = None,
    now: datetime | None = None,
    max_future_s: float = MAX_FUTURE_S,
) -> Quote:
    """Parse and validate one message value: a Quote, or InvalidQuote with a reason from REASONS."""
    if not raw:
        raise InvalidQuote("empty_message")
    if not isinstance(raw, bytes | str):
        raise InvalidQuote("bad_type", f"message of type {type(raw).__name__}")
    if len(raw) > MAX_MESSAGE_BYTES:  # str: characters, at most 4 bytes each; checked again below
        raise InvalidQuote("too_large", f"{len(raw)} > {MAX_MESSAGE_BYTES}")
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
        if len(raw) > MAX_MESSAGE_BYTES:
            raise InvalidQuote("too_large", f"{len(raw)} bytes > {MAX_MESSAGE_BYTES}")
    ahead = _AHEAD if max_future_s == MAX_FUTURE_S else timedelta(seconds=max_future_s)
    quote = _canonical(raw, COINS if symbols is None else symbols, (now or datetime.now(UTC)) + ahead)
    if quote is not None:
        return quote
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:  # also invalid UTF-8 and nesting past orjson's limit
        raise InvalidQuote("bad_json") from None
    return validate(data, symbols, now, max_future_s)


# --- the fast path: what producers write, checked in C ------------------------------------------
def _wire_type(name: str, kind: type, nullable: bool) -> Any:
    """The msgspec type of a field, from the contract above: bounds and lengths as constraints."""
    t: Any
    if name == "schema_version":
        t = Literal[SCHEMA_VERSION]  # an int 1: neither true nor 1.0, as validate
    elif name == "source":
        t = Literal[tuple(sorted(SOURCES))]
    elif kind is str:
        t = Annotated[str, msgspec.Meta(min_length=1, max_length=STRING_CHARS[name])]
    elif kind is float:
        low, high = NUMBER_RANGES[name]
        bounds = msgspec.Meta(gt=low, le=high) if name in POSITIVE else msgspec.Meta(ge=low, le=high)
        t = Annotated[float, bounds]
    else:
        t = Annotated[str, msgspec.Meta(max_length=MAX_TS_CHARS)]  # read below, as parse_ts does
    return t | None if nullable else t


_Wire: Any = msgspec.defstruct("Wire", [(name, _wire_type(name, *spec)) for name, spec in FIELDS.items()])
_WIRE = msgspec.json.Decoder(_Wire)


def _canonical(raw: bytes | str, symbols: Collection[str], latest: datetime) -> Quote | None:
    """The quote, if the message is typed and bounded as the contract says with its timestamps in
    UTC (msgspec checks types, bounds and lengths while it parses, in C; the timestamps are read as
    parse_ts reads them); None for anything else, which `validate` then judges, reason and all.
    Never more lenient than `validate`: tests/unit/test_fuzz.py compares the two on arbitrary input."""
    try:
        w = _WIRE.decode(raw)
    except Exception:  # malformed JSON, a type or bound, invalid UTF-8 in a string...: the validator says
        return None
    if w.symbol not in symbols or not w.symbol.isprintable() or not w.name.isprintable():
        return None
    try:
        source_ts = datetime.fromisoformat(w.source_ts)
        ingest_ts = datetime.fromisoformat(w.ingest_ts)
    except ValueError:
        return None
    if source_ts.tzinfo is not UTC or ingest_ts.tzinfo is not UTC:  # what parse_ts needs no converting
        return None
    if not (EARLIEST <= source_ts <= latest and EARLIEST <= ingest_ts <= latest):
        return None
    return Quote(
        w.symbol,
        w.name,
        float(w.price_usd),
        w.market_cap_usd,
        w.volume_24h_usd,
        w.change_24h_pct,
        w.source,
        source_ts,
        ingest_ts,
    )


def make_quote(
    symbol: str,
    price_usd: object,
    source_ts: datetime,
    *,
    source: str = "test",
    market_cap_usd: object = None,
    volume_24h_usd: object = None,
    change_24h_pct: object = None,
    ingest_ts: datetime | None = None,
) -> Quote:
    """Build a quote from parts, through the validator, so that no invalid quote is ever built.
    The numbers are typed `object` on purpose: upstream values arrive unchecked, and whatever is
    not a number in range is refused here (InvalidQuote), never trusted by type."""
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
