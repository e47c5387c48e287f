"""The exchange streams in the scraper's live mode (STREAM_SOURCES): the price of each coin from the
first live stream in priority order, published through the same publisher as every other quote.

    stream thread (asyncio): StreamConnection per exchange -> FailoverSink -> StreamFeed.offer
    pump thread:             StreamFeed.take (batches) -> market data added -> PublishGuard -> Publisher
    main thread:             warm start (releases each coin as its history is out), CoinGecko polls

- `StreamFeed` is a bounded queue: the stream thread never waits on a publish. When it is full the
  oldest quote goes, counted (`stream_dropped`) and logged at most once a minute. A coin's quotes
  are let in only once its warm start is done (`release`); before that they are counted
  (`stream_held`) and left out, the next quote superseding them.
- `PublishGuard` wraps the publisher for every live-mode writer (warm start, CoinGecko polls,
  streams): under one lock, a quote not newer in event time than the last published for its coin
  is left out (`not_newer.<source>`), so each coin's event times strictly increase whichever
  source supplies it.
- CoinGecko keeps polling at its plan's interval; for a coin a stream supplies, its market cap,
  24 h volume and 24 h change are carried on the stream's quotes instead of its price being
  published (`LiveScraper` asks `supplies` and hands over `note_market`).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime

import msgspec

from cryptoviz import logs, names
from cryptoviz.interfaces import NotDelivered
from cryptoviz.schema import Quote, utcnow
from cryptoviz.scraper.publisher import QuoteSink
from cryptoviz.scraper.sources.streams import adapter
from cryptoviz.scraper.sources.streams.connection import LIVE, StreamConnection, StreamRunner
from cryptoviz.scraper.sources.streams.failover import Failover, FailoverSink
from cryptoviz.scraper.stream_report import Rates, stream_counters, stream_gauges, supplied_by
from cryptoviz.service import Stop
from cryptoviz.settings import ScraperSettings
from cryptoviz.telemetry import Telemetry

log = logs.get(names.SCRAPER)

QUEUE_MAX = 10_000  # quotes between the streams and the publisher: minutes of every coin at 1/s
BATCH_MAX = 500  # quotes a publish
TAKE_WAIT_S = 0.2  # the longest the pump waits for a quote before it looks at the stop and the report
TAKEBACK_S = 5.0  # a source higher in priority takes a coin back once it has served it this long
LOG_EVERY_S = 60.0


class PublishGuard:
    """The live mode's quote sink: each coin's event times strictly increase across every writer."""

    def __init__(self, sink: QuoteSink, telemetry: Telemetry) -> None:
        self.sink = sink
        self.telemetry = telemetry
        self.last_ts: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def write(self, quotes: Sequence[Quote]) -> int:
        """Publish the quotes newer than their coin's last; NotDelivered leaves nothing recorded."""
        with self._lock:
            fresh: list[Quote] = []
            latest: dict[str, datetime] = {}
            for q in quotes:
                last = latest.get(q.symbol) or self.last_ts.get(q.symbol)
                if last is not None and q.source_ts <= last:
                    self.telemetry.incr(f"not_newer.{q.source}")
                    continue
                latest[q.symbol] = q.source_ts
                fresh.append(q)
            if fresh:
                self.sink.write(fresh)
            self.last_ts.update(latest)
            return len(fresh)


class StreamFeed:
    """A bounded queue of stream quotes, filled by the stream thread, drained by the pump."""

    def __init__(self, maxsize: int = QUEUE_MAX, clock: Callable[[], float] = time.monotonic) -> None:
        self.maxsize = maxsize
        self.clock = clock
        self.released: frozenset[str] = frozenset()  # coins whose warm start is done
        self.dropped = 0  # quotes lost to a full queue
        self.held = 0  # quotes of coins not released yet
        self.market: dict[str, tuple[float | None, float | None, float | None]] = {}
        self._queue: deque[Quote] = deque()
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._logged: float | None = None

    def offer(self, quote: Quote) -> None:
        """Called from the stream thread; never blocks on the publisher."""
        if quote.symbol not in self.released:
            self.held += 1
            return
        with self._lock:
            full = len(self._queue) >= self.maxsize
            if full:
                self._queue.popleft()
                self.dropped += 1
            self._queue.append(quote)
        self._ready.set()
        if full and (self._logged is None or self.clock() - self._logged >= LOG_EVERY_S):
            self._logged = self.clock()
            log.warning("stream_queue_full_oldest_dropped", dropped=self.dropped, queued=self.maxsize)

    def release(self, symbol: str) -> None:
        self.released = self.released | {symbol}

    def take(self, most: int, wait_s: float) -> list[Quote]:
        """Up to `most` quotes, oldest first, waiting up to `wait_s` for the first."""
        if most <= 0:
            return []
        self._ready.wait(wait_s)
        with self._lock:
            out = [self._queue.popleft() for _ in range(min(most, len(self._queue)))]
            if not self._queue:
                self._ready.clear()
        return out

    def __len__(self) -> int:
        return len(self._queue)

    def note_market(self, quote: Quote) -> None:
        """What only CoinGecko (or CoinMarketCap) knows of a coin, carried on its stream quotes."""
        self.market[quote.symbol] = (quote.market_cap_usd, quote.volume_24h_usd, quote.change_24h_pct)

    def enrich(self, quote: Quote) -> Quote:
        known = self.market.get(quote.symbol)
        if known is None:
            return quote
        cap, volume, change = known
        return msgspec.structs.replace(
            quote, market_cap_usd=cap, volume_24h_usd=volume, change_24h_pct=change
        )


class Streams:
    """The stream sources of one scraper: `start()`, `release(coin)` as warm starts end, `stop()`."""

    def __init__(
        self, settings: ScraperSettings, coins: list[str], sink: QuoteSink, telemetry: Telemetry, stop: Stop
    ) -> None:
        self.coins = coins
        self.sink = sink
        self.telemetry = telemetry
        self.stop_signal = stop
        self.feed = StreamFeed()
        self.connections = [
            StreamConnection(
                adapter(name),
                settings.stream_url(name),
                coins,
                self._from_stream,
                quote_interval_ms=settings.stream_quote_interval_ms,
                stall_s=settings.stream_stall_s,
                reject_log_every_s=LOG_EVERY_S,
            )
            for name in settings.stream_sources
        ]
        self.runner = StreamRunner(self.connections)
        self.failover = FailoverSink(
            Failover(tuple(settings.stream_sources), TAKEBACK_S),
            self.runner.views,
            self.feed.offer,
            time.monotonic,
            standby_s=settings.stream_stall_s,  # a stall is found this long after the last frame
        )
        self.unsent: list[Quote] = []
        self.rates = Rates()
        self._pump = threading.Thread(target=self._run_pump, name="stream-pump", daemon=True)
        self._done = threading.Event()

    def _from_stream(self, quote: Quote) -> None:
        self.failover(quote)

    # -- what the live loop and auto mode ask ---------------------------------------------------
    def live(self) -> str | None:
        """The first source in priority order that is live now, if any."""
        return next((c.name for c in self.connections if c.stats.state == LIVE), None)

    def supplies(self, symbol: str) -> bool:
        """A stream supplies the coin's price now (its warm start is done and a live source serves it)."""
        if symbol not in self.feed.released:
            return False
        return any(v.state == LIVE and symbol in v.serving for v in self.runner.views().values())

    def note_market(self, quote: Quote) -> None:
        self.feed.note_market(quote)

    def release(self, symbol: str) -> None:
        self.feed.release(symbol)

    def release_all(self) -> None:
        for coin in self.coins:
            self.feed.release(coin)

    # -- running --------------------------------------------------------------------------------
    def start(self) -> Streams:
        log.info(
            "streams_starting",
            sources=",".join(c.name for c in self.connections),
            urls=",".join(c.url.split("?")[0] for c in self.connections),
        )
        self.runner.start()
        self._pump.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the connections, then publish what the queue still holds (the publisher gives up at
        once when the service is stopping: what is left is counted, never silently lost)."""
        self.runner.stop(timeout_s)
        self._done.set()
        self._pump.join(timeout_s)
        left = len(self.unsent) + len(self.feed)
        if left:  # the last batch tried may still be delivered by the producer's close
            self.telemetry.incr("stream_unacknowledged_at_stop", left)
            log.warning("stream_quotes_unacknowledged_at_stop", tried=len(self.unsent), queued=len(self.feed))
        self.report()

    def _run_pump(self) -> None:
        next_report = 0.0
        while not self._done.is_set():
            try:
                if not self.pump_once(TAKE_WAIT_S) and self.stop_signal:
                    break  # stopping: nothing more is sent; stop() counts what is left
                if time.monotonic() >= next_report:
                    next_report = time.monotonic() + self.telemetry.interval_s
                    self.report()
            except Exception:  # a bug here must not end the streams' publishing: counted, logged
                self.telemetry.incr("errors.stream_pump")
                log.error("stream_pump_failed", exc=True)
                self._done.wait(1.0)
        if not self.stop_signal:  # stopped by its owner, not SIGTERM: the publisher still publishes
            while len(self.feed) and self.pump_once(0.0):
                pass

    def pump_once(self, wait_s: float) -> bool:
        """Publish one batch from the queue (and what the last batch left); True: it went out."""
        batch = self.unsent + [
            self.feed.enrich(q) for q in self.feed.take(BATCH_MAX - len(self.unsent), wait_s)
        ]
        if not batch:
            return True
        try:
            self.sink.write(batch)
        except NotDelivered as exc:
            self.unsent = batch  # kept in order for the next try; the queue holds the rest
            self.telemetry.incr("errors.stream_publish_batches")
            if self.stop_signal:
                log.warning("stream_publish_stopped", quotes=len(batch), error=exc)
            else:
                log.error("stream_publish_failed_will_retry", quotes=len(batch), error=exc)
                self.stop_signal.wait(1.0)
            return False
        self.unsent = []
        return True

    def report(self) -> None:
        """The sources' gauges and counters into the heartbeat, which is published."""
        elapsed = self.rates.step(time.monotonic())
        owners = dict(self.failover.failover.owners)
        views = self.runner.views()
        now = utcnow()
        t = self.telemetry
        for conn in self.connections:
            stats = conn.stats
            coins = supplied_by(conn.name, owners, views[conn.name])
            t.gauges.update(
                stream_gauges(conn.name, stats, self.rates.seen.get(conn.name), elapsed, coins, now)
            )
            self.rates.seen[conn.name] = (stats.frames, stats.quotes)
            for key, n in stream_counters(conn.name, stats).items():
                t.counters[key] = n  # running totals of the connection's: set, never added
        for key, n in list(self.failover.counts.items()):
            if key.startswith("standby."):
                t.counters[f"stream_standby.{key.partition('.')[2]}"] = n
        t.counters["stream_handovers"] = self.failover.counts["handovers"]
        t.counters["stream_dropped"] = self.feed.dropped
        t.counters["stream_held"] = self.feed.held
        t.gauge("stream_queue", len(self.feed))
        t.publish()


def start_streams(
    settings: ScraperSettings, coins: list[str], sink: QuoteSink, telemetry: Telemetry, stop: Stop
) -> Streams | None:
    """The scraper's streams, started (their coins held until released); None without STREAM_SOURCES."""
    if not settings.stream_sources:
        return None
    return Streams(settings, coins, sink, telemetry, stop).start()
