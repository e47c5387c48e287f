"""What a stream adapter is: for a coin list, the URL to connect to and the messages to send once
connected; for one frame, the ticks it carries or the control message it is. Adapters do no I/O:
`connection.StreamConnection` does the connecting, the throttling and the counting."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Protocol, TypeVar

import msgspec
import orjson

from cryptoviz.schema import InvalidQuote, parse_ts
from cryptoviz.scraper.sources.streams.limits import ConnectLimit

# Why a frame was refused: the streams' own reasons. A tick the contract then refuses is counted by
# the contract's reason (schema.REASONS: price_not_positive, future_timestamp, ...).
FRAME_REASONS = frozenset(
    {
        "bad_json",  # not JSON, or not UTF-8
        "unexpected_frame",  # JSON, but of no shape the exchange documents
        "unknown_pair",  # a pair the connection did not subscribe to
        "bad_price",  # a price that is not a number (a string that does not parse)
        "bad_timestamp",  # an event time that is not one
        "too_large",  # over MAX_FRAME_BYTES
    }
)
MAX_FRAME_BYTES = 64 * 1024  # the largest documented frame here (a Coinbase ticker) is under 1 KiB


class FrameError(ValueError):
    """A frame that carries no usable tick and is no control message; `reason` is in FRAME_REASONS."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class Tick(msgspec.Struct, frozen=True):
    """One price of one coin as a frame gives it: USD (USDT taken as USD), the exchange's event time
    when the frame has one (None: the receive time stands in). A msgspec Struct, as `Parsed`: one
    or two are built per frame, in C."""

    symbol: str
    price: float
    event_time: datetime | None


class Parsed(msgspec.Struct, frozen=True):
    """What one frame is: ticks, or a control message named by `control` (a subscription answer, a
    heartbeat, a status), possibly saying which coins the exchange refused (`unlisted`)."""

    ticks: tuple[Tick, ...] = ()
    control: str | None = None
    unlisted: tuple[str, ...] = ()
    untyped: bool = False  # ticks that `parse_any` read: the frame was not in its channel's typed shape


class StreamAdapter(Protocol):
    name: str  # the quote's source: one of schema.SOURCES
    connects: ConnectLimit  # the connection attempts the exchange allows an IP
    # a subscription that names one pair the exchange refuses subscribes none (Coinbase): the
    # connection asks again, at once, for the coins not refused
    refusal_voids_subscription: bool

    def lists(self) -> frozenset[str]:
        """The coins this exchange has a USD (or USDT) pair for."""
        ...

    def url(self, base: str, symbols: Collection[str]) -> str: ...

    def subscribe(self, symbols: Collection[str]) -> list[str]:
        """The messages to send, in order, once connected (may be none)."""
        ...

    def parse(self, frame: str | bytes) -> Parsed:
        """The frame's ticks or control message; FrameError when it is neither."""
        ...


@dataclass
class PairMap:
    """Coin symbol <-> the exchange's pair name."""

    to_pair: Mapping[str, str]
    to_symbol: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.to_symbol = {pair: sym for sym, pair in self.to_pair.items()}

    def pairs(self, symbols: Collection[str]) -> list[str]:
        return [self.to_pair[s] for s in symbols if s in self.to_pair]

    def symbol(self, pair: object) -> str:
        if not isinstance(pair, str) or pair not in self.to_symbol:
            raise FrameError("unknown_pair", repr(pair)[:40])
        return self.to_symbol[pair]


class PairAdapter:
    """What the adapters share: the pairs they list and, for an exchange that takes its
    subscriptions as messages, the endpoint's URL as it is."""

    refusal_voids_subscription = False

    def __init__(self, pairs: Mapping[str, str]) -> None:
        self.pairs = PairMap(pairs)

    def lists(self) -> frozenset[str]:
        return frozenset(self.pairs.to_pair)

    def url(self, base: str, symbols: Collection[str]) -> str:
        return base

    def parse(self, frame: str | bytes) -> Parsed:
        """The frame's ticks or control message, or FrameError with the reason: a frame of the
        subscribed channel in its documented shape by `_typed`, any other by `parse_any` (ticks
        read that way are marked `untyped`: the exchange sent a shape the typed decoder misses)."""
        parsed = self._typed(frame)
        if parsed is not None:
            return parsed
        parsed = self.parse_any(frame)
        return msgspec.structs.replace(parsed, untyped=True) if parsed.ticks else parsed

    def _typed(self, frame: str | bytes) -> Parsed | None:
        """The frame read with the channel's typed decoder (`typed`); None when it is not in that shape."""
        raise NotImplementedError

    def parse_any(self, frame: str | bytes) -> Parsed:
        """Any frame: its ticks or control message, or FrameError with the reason."""
        raise NotImplementedError


def checked_channel(channel: str, channels: Collection[str]) -> str:
    if channel not in channels:
        raise ValueError(f"channel: one of {', '.join(channels)}, got {channel!r}")
    return channel


# An integer as orjson reads it: beyond int64, orjson gives a float, so a typed field refuses it
Int = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
S = TypeVar("S")


def typed(decoder: msgspec.json.Decoder[S], frame: str | bytes) -> S | None:
    """The frame in its usual shape, decoded and typed in one step; None when it is in any other
    (the adapter's `parse_any` then reads it, and says what it is or why it is refused).

    The shapes are msgspec Structs that forbid unknown fields and type every field as str, bool,
    `Int` or another such Struct, so whatever they accept `load` reads alike, with the same values:
    a value `load` would refuse (a number past a float's range, in a field the shape does not know)
    has no field to hide in, and a frame `load` refuses for its size is not decoded. A frame with a
    field its shape does not list (one an exchange adds) is read by `parse_any`: the same result, at
    the cost of the untyped path (bench/stream_source.py's decode phase shows it)."""
    if len(frame) > MAX_FRAME_BYTES:
        return None
    try:
        return decoder.decode(frame)
    except Exception:  # malformed, another shape, too deep, not UTF-8: for parse_any to say
        return None


def load(frame: str | bytes) -> object:
    """The frame as JSON, or FrameError (too_large, bad_json)."""
    if len(frame) > MAX_FRAME_BYTES:
        raise FrameError("too_large", f"{len(frame)} > {MAX_FRAME_BYTES}")
    try:
        return orjson.loads(frame)
    except orjson.JSONDecodeError:
        raise FrameError("bad_json", repr(frame[:40])) from None


def price(value: object, what: str = "price") -> float:
    """An exchange's price: a decimal string (as every exchange here sends it) or a JSON number.
    Whether it is positive and in range is the contract's to say (make_quote)."""
    if isinstance(value, bool):
        raise FrameError("bad_price", f"{what} is a boolean")
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str) or len(value) > 40:
        raise FrameError("bad_price", f"{what}={value!r}"[:60])
    try:
        number = float(value)
    except ValueError:
        raise FrameError("bad_price", f"{what}={value!r}"[:60]) from None
    if not math.isfinite(number):  # "nan", "inf" parse as floats but are no price
        raise FrameError("bad_price", f"{what}={value!r}")
    return number


def epoch_time(value: object, per_second: float) -> datetime:
    """An epoch time (ms: per_second=1000; seconds, possibly as a decimal string: 1) in UTC."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise FrameError("bad_timestamp", repr(value)[:40]) from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise FrameError("bad_timestamp", repr(value)[:40])
    try:
        return datetime.fromtimestamp(value / per_second, UTC)
    except (OverflowError, OSError, ValueError):
        raise FrameError("bad_timestamp", repr(value)[:40]) from None


def iso_time(value: object) -> datetime:
    """An ISO 8601 time with its zone (Coinbase's `time`), in UTC."""
    try:
        return parse_ts(value, "time")
    except InvalidQuote as exc:
        raise FrameError("bad_timestamp", exc.detail) from None
