"""At most one quote per coin per interval, the latest seen in it (pure: the clock is passed in)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from cryptoviz.schema import Quote


@dataclass
class Throttle:
    """`offer` keeps each coin's latest quote; `due(now)` hands them over at most once per
    `interval_s` (clock seconds) and forgets them. A quote dated at or before the last one handed
    over for its coin is no news and is dropped (counted in `not_newer`)."""

    interval_s: float
    held: dict[str, Quote] = field(default_factory=dict)
    last_event: dict[str, datetime] = field(default_factory=dict)
    next_due: float | None = None
    not_newer: int = 0

    def offer(self, quote: Quote) -> None:
        self.held[quote.symbol] = quote

    def wait_s(self, now: float) -> float:
        """Seconds until the next hand-over (0: due now)."""
        return 0.0 if self.next_due is None else max(0.0, self.next_due - now)

    def due(self, now: float) -> list[Quote]:
        """The held quotes, once the interval since the previous hand-over has passed; else none."""
        if self.next_due is not None and now < self.next_due:
            return []
        self.next_due = now + self.interval_s
        out = []
        for symbol, quote in self.held.items():
            last = self.last_event.get(symbol)
            if last is not None and quote.source_ts <= last:
                self.not_newer += 1
                continue
            self.last_event[symbol] = quote.source_ts
            out.append(quote)
        self.held.clear()
        return out

    def forget(self) -> None:
        """Drop what is held (its connection is gone); what was handed over stays known."""
        self.held.clear()
