"""A stream's ticks made into quotes: what `schema.make_quote` gives for each, without its round trip
through the wire form for every tick.

`make_quote` formats both timestamps as ISO strings and has the contract's validator read them back
(which keeps milliseconds) and check every field. For one source and one coin, all but the price and
the event time come out the same every time, so once `make_quote` has taken a tick of a coin, the
next ticks of that coin whose price and times are plainly in range (a float in (0, MAX_PRICE_USD],
times in UTC between EARLIEST and the receive time plus MAX_FUTURE_S) are built here directly with
their times cut to the millisecond, as the round trip cuts them. Every other tick goes through
`make_quote`, which builds it or refuses it (InvalidQuote) with its reason, as before.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptoviz.schema import EARLIEST, MAX_FUTURE_S, MAX_PRICE_USD, Quote, make_quote

AHEAD = timedelta(seconds=MAX_FUTURE_S)


def to_ms(ts: datetime) -> datetime:
    """A UTC time cut to the millisecond, as `schema.format_ts` then `schema.parse_ts` leave it."""
    if ts.microsecond % 1000 or ts.fold:
        return ts.replace(microsecond=ts.microsecond - ts.microsecond % 1000, fold=0)
    return ts


class TickQuotes:
    """`receive(t)` once per frame with its receive time, then `quote(...)` for each of its ticks."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._names: dict[str, str] = {}  # coin -> its name, once make_quote has made a quote of it
        self._received = EARLIEST
        self._ingest: datetime | None = None  # the receive time as the quote keeps it (None: not UTC)
        self._latest = EARLIEST

    def receive(self, received: datetime) -> None:
        """The receive time of the frame whose ticks come next: their ingest time, and their event
        time when they have none."""
        self._received = received
        ok = received.tzinfo is UTC and received >= EARLIEST
        self._ingest = to_ms(received) if ok else None
        self._latest = received + AHEAD if ok else EARLIEST

    def quote(self, symbol: str, price: float, event_time: datetime | None) -> Quote:
        """`make_quote(symbol, price, event_time or received, source=..., ingest_ts=received)`."""
        name = self._names.get(symbol)
        ingest = self._ingest
        if name is not None and ingest is not None and type(price) is float and 0.0 < price <= MAX_PRICE_USD:
            if event_time is None:
                return Quote(symbol, name, price, None, None, None, self.source, ingest, ingest)
            if event_time.tzinfo is UTC:
                ts = to_ms(event_time)
                if EARLIEST <= ts <= self._latest:
                    return Quote(symbol, name, price, None, None, None, self.source, ts, ingest)
        received = self._received
        quote = make_quote(symbol, price, event_time or received, source=self.source, ingest_ts=received)
        self._names[symbol] = quote.name
        return quote
