"""Which stream supplies each coin: the first live one in priority order that serves the coin; a
source higher in the order takes the coin back once it has served it again for `takeback_s`. Pure:
the sources' views and the time are passed in. `FailoverSink` puts it in front of a quote sink."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cryptoviz import logs
from cryptoviz.schema import Quote

log = logs.get("streams")

LIVE = "live"


@dataclass(frozen=True, slots=True)
class SourceView:
    """A source as the failover sees it: its state and the coins it serves now (listed, subscribed,
    not refused by the exchange, a tick within the stall time)."""

    state: str
    serving: frozenset[str]


@dataclass
class Failover:
    priority: tuple[str, ...]
    takeback_s: float = 0.0
    owners: dict[str, str | None] = field(default_factory=dict)
    _since: dict[tuple[str, str], float] = field(default_factory=dict)  # (source, coin) -> eligible since

    def owner(self, coin: str, views: Mapping[str, SourceView], now: float) -> str | None:
        """The source that supplies `coin` now (None: no source serves it)."""
        eligible = []
        for name in self.priority:
            view = views.get(name)
            if view is not None and view.state == LIVE and coin in view.serving:
                eligible.append(name)
                self._since.setdefault((name, coin), now)
            else:
                self._since.pop((name, coin), None)
        current = self.owners.get(coin)
        if current not in eligible:
            current = None
        for name in eligible:
            if name == current:
                break
            if current is None or now - self._since[(name, coin)] >= self.takeback_s:
                current = name
                break
        self.owners[coin] = current
        return current

    def assign(
        self, coins: Collection[str], views: Mapping[str, SourceView], now: float
    ) -> dict[str, str | None]:
        return {coin: self.owner(coin, views, now) for coin in coins}


@dataclass
class FailoverSink:
    """A quote sink that lets through only the quotes of each coin's current source, and only those
    newer in event time than the last it let through for the coin (no duplicate, no step back when
    the source changes). Called from the thread that runs the streams; `sink` must not block.

    A source is found stalled only after a stall time without a frame; the standby sources' quotes
    of the last `standby_s` of event time are kept (a few per coin: they come throttled), and when
    a coin changes hands its new source's kept quotes newer than the last let through go first,
    so the handover leaves no gap longer than the standby's own interval."""

    failover: Failover
    views: Callable[[], Mapping[str, SourceView]]
    sink: Callable[[Quote], None]
    clock: Callable[[], float]
    standby_s: float = 0.0
    last_ts: dict[str, datetime] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)  # passed, standby.<source>, not_newer, handovers
    kept: dict[tuple[str, str], deque[Quote]] = field(default_factory=dict)  # (source, coin) -> quotes

    def __call__(self, quote: Quote) -> None:
        before = self.failover.owners.get(quote.symbol)
        owner = self.failover.owner(quote.symbol, self.views(), self.clock())
        if owner != before:
            self.counts["handovers"] += 1
            log.info("stream_handover", coin=quote.symbol, source=owner, previous=before)
            if owner is not None:
                for kept in self.kept.pop((owner, quote.symbol), ()):
                    self._pass(kept)
        if quote.source != owner:
            self.counts[f"standby.{quote.source}"] += 1
            self._keep(quote)
            return
        self._pass(quote)

    def _keep(self, quote: Quote) -> None:
        if self.standby_s <= 0:
            return
        kept = self.kept.setdefault((quote.source, quote.symbol), deque())
        kept.append(quote)
        oldest = quote.source_ts - timedelta(seconds=self.standby_s)
        while kept and kept[0].source_ts < oldest:
            kept.popleft()

    def _pass(self, quote: Quote) -> None:
        last = self.last_ts.get(quote.symbol)
        if last is not None and quote.source_ts <= last:
            self.counts["not_newer"] += 1
            return
        self.last_ts[quote.symbol] = quote.source_ts
        self.counts["passed"] += 1
        self.sink(quote)
