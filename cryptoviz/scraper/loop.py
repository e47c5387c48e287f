"""The scraper's loops: live polling with a primary and a fill-in source (and, with exchange streams,
the coins no stream supplies), or a paced replay."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from cryptoviz import logs, names
from cryptoviz.interfaces import NotDelivered
from cryptoviz.retry import Backoff
from cryptoviz.schema import Quote
from cryptoviz.scraper.publisher import QuoteSink
from cryptoviz.scraper.sources.base import Source, SourceError
from cryptoviz.service import Stop
from cryptoviz.telemetry import Telemetry

log = logs.get(names.SCRAPER)
UNSENT_KEPT = 1000  # quotes a live loop keeps for its next cycle while the broker is away


@dataclass
class SourceHealth:
    """A source's failure streak and when it may be asked again."""

    failures: int = 0
    not_before: float = 0.0
    last_success: float | None = None
    last_error: str | None = None


class PriceStreams(Protocol):
    """The exchange streams as the polling loop and auto mode see them (`scraper.streaming.Streams`)."""

    def live(self) -> str | None:
        """The first stream source that is live now, if any."""
        ...

    def supplies(self, symbol: str) -> bool:
        """A stream supplies the coin's price now."""
        ...

    def note_market(self, quote: Quote) -> None:
        """A polled quote's market cap and volume, for the stream's quotes of its coin."""
        ...


@dataclass
class LiveScraper:
    sources: list[Source]  # the primary first
    symbols: list[str]
    publisher: QuoteSink
    telemetry: Telemetry
    interval_s: float
    down_after: int = 3
    clock: Callable[[], float] = time.monotonic
    backoff: Backoff = field(default_factory=Backoff)
    health: dict[str, SourceHealth] = field(default_factory=dict)
    last_source_ts: dict[str, datetime] = field(default_factory=dict)
    unsent: list[Quote] = field(default_factory=list)
    streams: PriceStreams | None = None  # with streams, a coin they supply is not priced by the polls
    sleep: Callable[[float], bool] | None = None  # returns True when asked to stop (default: the Stop's)

    def __post_init__(self) -> None:
        for src in self.sources:
            self.health.setdefault(src.name, SourceHealth())

    def _ask(self, source: Source, symbols: list[str]) -> list[Quote]:
        h = self.health[source.name]
        now = self.clock()
        if now < h.not_before:
            self.telemetry.incr(f"skipped_backoff.{source.name}")
            return []
        try:
            result = source.fetch(symbols)
        except SourceError as exc:
            h.failures += 1
            h.last_error = exc.kind
            wait = self.backoff.delay(h.failures, exc.retry_after)
            h.not_before = now + wait
            self.telemetry.incr(f"errors.{source.name}.{exc.kind}")
            log.warning(
                "source_failed",
                source=source.name,
                kind=exc.kind,
                detail=exc.detail,
                failures=h.failures,
                retry_in_s=round(wait, 1),
            )
            return []
        for reason, n in result.rejects.items():
            self.telemetry.incr(f"rejected.{source.name}.{reason}", n)
            log.warning("quotes_rejected", source=source.name, reason=reason, count=n)
        h.failures, h.not_before, h.last_success = 0, 0.0, time.time()
        self.telemetry.incr(f"quotes_in.{source.name}", len(result.quotes))
        return result.quotes

    def cycle(self) -> int:
        """One poll of the primary, fill-ins from the others, publish what moved. Returns quotes sent."""
        self.telemetry.incr("cycles")
        got: dict[str, Quote] = {}
        for source in self.sources:
            missing = [s for s in self.symbols if s not in got]
            if not missing:
                break
            for q in self._ask(source, missing):
                got.setdefault(q.symbol, q)
        fresh = []
        for sym in self.symbols:
            found = got.get(sym)
            if self.streams is not None and self.streams.supplies(sym):
                if found is not None:
                    self.streams.note_market(found)
                    self.telemetry.incr(f"market_only.{found.source}")  # the price comes from a stream
                continue
            if found is None:
                self.telemetry.incr("missing_symbol")
                continue
            if self.last_source_ts.get(sym) is not None and found.source_ts <= self.last_source_ts[sym]:
                self.telemetry.incr(f"stale.{found.source}")  # upstream has not moved: not republished
                continue
            fresh.append(found)
        self.publish(fresh)
        self._report()
        return len(fresh)

    def publish(self, quotes: list[Quote]) -> None:
        batch = self.unsent + quotes
        if not batch:
            return
        try:
            self.publisher.write(batch)
        except NotDelivered as exc:
            self.unsent = batch[-UNSENT_KEPT:]  # kept for the next cycle; the oldest beyond, counted
            self.telemetry.incr("errors.publish_batches")
            if len(batch) > UNSENT_KEPT:
                self.telemetry.incr("unsent_dropped", len(batch) - UNSENT_KEPT)
            log.error("publish_failed_will_retry", quotes=len(batch), kept=len(self.unsent), error=exc)
            return
        self.unsent = []
        for q in batch:
            self.last_source_ts[q.symbol] = max(q.source_ts, self.last_source_ts.get(q.symbol, q.source_ts))

    def _report(self) -> None:
        states = {}
        for name, h in self.health.items():
            state = "down" if h.failures >= self.down_after else ("degraded" if h.failures else "up")
            if h.failures and h.last_error in PACED:
                state = h.last_error  # a run of 429s, or the plan's pace, is not an outage
            states[name] = state
            self.telemetry.gauge(f"source.{name}.state", state)
            self.telemetry.gauge(f"source.{name}.last_success_ts", h.last_success)
            self.telemetry.gauge(f"source.{name}.last_error", h.last_error)
        streaming = self.streams is not None and self.streams.live() is not None
        self.telemetry.state = "running" if "up" in states.values() or streaming else "degraded"
        self.telemetry.publish()

    def run(self, stop: Stop) -> None:
        log.info(
            "live_started", sources=",".join(s.name for s in self.sources), symbols=",".join(self.symbols)
        )
        sleep = self.sleep or stop.wait
        while not stop:
            started = self.clock()
            self.cycle()
            if wait_in_heartbeats(started + self.interval_s, self.clock, sleep, self.telemetry):
                break
        if self.unsent:  # the broker away until the stop: these were never published
            self.telemetry.incr("unsent_dropped", len(self.unsent))
            log.warning("stopping_with_quotes_not_published", quotes=len(self.unsent))
            self.telemetry.publish()


def wait_in_heartbeats(
    due: float,
    clock: Callable[[], float],
    sleep: Callable[[float], bool],
    telemetry: Telemetry,
    ended: Callable[[], bool] = lambda: False,
) -> bool:
    """Sleep until `due` in heartbeat-sized steps, publishing the heartbeat between them, so a poll
    every five minutes or a slow replay never looks dead. True: asked to stop, or `ended`."""
    while (left := due - clock()) > 0:
        if sleep(min(left, telemetry.interval_s)) or ended():
            return True
        telemetry.maybe_publish()
    return False


# errors that mean "not now" rather than "down": the API's 429, the plan's month or minute (quota.py)
PACED = ("rate_limited", "quota_paced", "minute_limit")
AUTO_REPLAYING = "replay (no live source answered)"  # the mode gauge's words, read by the pages
AUTO_SWITCHED = "live (switched from replay)"


@dataclass
class LiveProbe:
    """Auto mode's question, asked of the APIs at most every `every_s`: does a live source answer
    with quotes (or is an exchange stream live)? True from the first answer on; `answered` names
    the source."""

    sources: list[Source]
    symbols: list[str]
    every_s: float
    clock: Callable[[], float] = time.monotonic
    answered: str | None = None
    _next: float | None = None
    streams: PriceStreams | None = None  # a live stream answers too (asked at every call: no API call)

    def __call__(self) -> bool:
        if self.answered is not None:
            return True
        live = self.streams.live() if self.streams is not None else None
        if live is not None:
            self.answered = live
            return True
        now = self.clock()
        if self._next is not None and now < self._next:
            return False
        self._next = now + self.every_s
        for src in self.sources:
            try:
                if src.fetch(self.symbols).quotes:
                    self.answered = src.name
                    return True
            except SourceError as exc:
                log.warning("live_source_unreachable", source=src.name, kind=exc.kind, detail=exc.detail)
        return False


REPLAY_WRITE_MAX = 5000  # quotes: batches already due go out together, up to this many a write


@dataclass
class ReplayScraper:
    """Plays hourly batches of history through the publisher, paced by event time / speed.

    The batches that are due already (the warm-up, a replay faster than the broker acknowledges an
    hour's batch, a catch-up after a pause) go out together, up to REPLAY_WRITE_MAX quotes a write:
    one wait for the broker's acks, not one per historical hour. The pace is the only wait."""

    batches: Iterator[list[Quote]]
    publisher: QuoteSink
    telemetry: Telemetry
    speed: float
    warmup_until: datetime | None = None  # batches before this event time are sent at once
    max_rate: float = 0.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], bool] | None = None  # returns True when asked to stop
    until: Callable[[], bool] | None = None  # True: end the replay here (auto mode went live)
    _last_due: float = field(default=0.0, init=False)  # when the previous paced batch was due

    def run(self, stop: Stop) -> int:
        sleep = self.sleep or stop.wait
        sent = 0
        anchor: tuple[float, float] | None = None  # (wall, event) at the first paced batch
        self.telemetry.gauges.setdefault("mode", "replay")  # auto mode has said why it replays
        self.telemetry.publish("running")
        pending: list[Quote] = []  # batches due, not yet written
        queued = 0  # quotes taken from the batches so far
        for batch in self.batches:
            if stop or self._ended():
                break
            event = batch[0].event_time
            if self.warmup_until is None or batch[0].source_ts >= self.warmup_until:
                if anchor is None:
                    anchor = (self.clock(), event)
                    log.info("replay_paced_from", event_time=batch[0].source_ts.isoformat(), speed=self.speed)
                due = anchor[0] + (event - anchor[1]) / self.speed
                if self.max_rate:
                    due = max(due, self._last_due + len(batch) / self.max_rate) if queued else due
                if due > self.clock() and pending:  # a wait is coming: what is due goes out first
                    if not self._write(pending, sleep):
                        return sent
                    sent, pending = sent + len(pending), []
                if wait_in_heartbeats(due, self.clock, sleep, self.telemetry, self._ended):
                    break
                self._last_due = due
            pending += batch
            queued += len(batch)
            if len(pending) >= REPLAY_WRITE_MAX:
                if not self._write(pending, sleep):
                    return sent
                sent, pending = sent + len(pending), []
        if pending and self._write(pending, sleep):
            sent += len(pending)
        self.telemetry.publish()
        return sent

    def _write(self, quotes: list[Quote], sleep: Callable[[float], bool]) -> bool:
        """Publish, retrying every 2 s while the broker refuses; False when asked to stop first."""
        while True:
            try:
                self.publisher.write(quotes)
                break
            except NotDelivered as exc:
                self.telemetry.incr("errors.publish_batches")
                log.error("publish_failed_will_retry", quotes=len(quotes), error=exc)
                if sleep(2.0):
                    return False
        self.telemetry.gauge("replay_event_time", quotes[-1].source_ts.isoformat())
        self.telemetry.maybe_publish()
        return True

    def _ended(self) -> bool:
        return self.until is not None and self.until()
