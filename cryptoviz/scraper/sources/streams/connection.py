"""One exchange stream over `websockets`: connect, subscribe, read frames, hand at most one quote per
coin per interval to a sink; reconnect with jittered exponential backoff after a drop, and after a
stall (no usable frame for `stall_s`: garbage does not count), never more often than the exchange's
connection limit allows (`limits.ConnectLimit`: a reconnect waits for the window, counted and
logged). websockets answers the server's pings and sends its own (`ping_interval_s`), so a dead TCP
connection is found even while frames are due.

State: connecting (until the first tick of a connection), live, stalled (no usable frame for
`stall_s`; a reconnect follows), down (the connection failed or dropped; a reconnect follows).
`StreamRunner` runs several connections in one asyncio loop on a thread of its own."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from cryptoviz import logs
from cryptoviz.retry import Backoff
from cryptoviz.schema import InvalidQuote, Quote, internal_error, utcnow
from cryptoviz.scraper.sources.streams.base import FrameError, Parsed, StreamAdapter
from cryptoviz.scraper.sources.streams.failover import SourceView
from cryptoviz.scraper.sources.streams.limits import ConnectLimit, ConnectWindow
from cryptoviz.scraper.sources.streams.quotes import TickQuotes
from cryptoviz.scraper.sources.streams.throttle import Throttle

log = logs.get("streams")

CONNECTING, LIVE, STALLED, DOWN = "connecting", "live", "stalled", "down"
STOP_CHECK_S = 0.5  # the longest a connection waits for a frame before it looks at the stop signal
# control frames (Kraken's heartbeats, subscription answers) keep a connection from stalling, but
# not past this many stall_s without a tick: a feed whose data stopped while its heartbeats go on
TICKLESS_STALLS = 4


@dataclass
class StreamStats:
    """A connection's counters; read from any thread (plain numbers, replaced, never reshaped)."""

    state: str = CONNECTING
    frames: int = 0  # every frame received, good or bad
    ticks: int = 0  # prices taken from frames
    quotes: int = 0  # quotes handed to the sink
    controls: int = 0  # subscription answers, heartbeats, statuses
    untyped: int = 0  # frames of ticks not in their channel's typed shape (read the slower way)
    rejects: Counter[str] = field(default_factory=Counter)  # reason -> frames or ticks refused
    connects: int = 0
    reconnects: int = 0
    limit_waits: int = 0  # reconnects that waited for the exchange's connection limit
    resubscribes: int = 0  # subscriptions sent again, without the coins a refusal named
    stalls: int = 0
    sink_errors: int = 0
    last_frame_ts: datetime | None = None  # when the last frame was received (UTC)
    last_error: str | None = None
    unlisted: frozenset[str] = frozenset()  # coins the exchange refused to subscribe


class StreamConnection:
    def __init__(
        self,
        adapter: StreamAdapter,
        base_url: str,
        symbols: Collection[str],
        sink: Callable[[Quote], None],
        *,
        quote_interval_ms: float = 1000,
        stall_s: float = 15.0,
        backoff: Backoff | None = None,
        open_timeout_s: float = 10.0,
        ping_interval_s: float = 20.0,
        reject_log_every_s: float = 0.0,
        connect_limit: ConnectLimit | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.adapter = adapter
        self.name = adapter.name
        self.symbols = [s for s in symbols if s in adapter.lists()]  # the coins it can supply
        self.url = adapter.url(base_url, self.symbols)
        self.sink = sink
        self.stall_s = stall_s
        self.backoff = backoff or Backoff(base_s=1.0, cap_s=60.0)
        self.open_timeout_s = open_timeout_s
        self.ping_interval_s = ping_interval_s
        self.reject_log_every_s = reject_log_every_s  # 0: a log line for every refused frame
        self.clock = clock
        self.throttle = Throttle(quote_interval_ms / 1000)
        self.connect_window = ConnectWindow(connect_limit or adapter.connects)
        self.stats = StreamStats()
        self.quotes = TickQuotes(self.name)
        self._wanted = frozenset(self.symbols)
        self._last_tick: dict[str, float] = {}  # coin -> clock time of its last tick
        self._logged: dict[str, float] = {}  # reason -> clock time of its last log line
        self._delivered = False  # the current connection gave a tick
        self._resubscribe = False  # the exchange voided the subscription: ask again without the refused
        self._ticked = 0.0  # clock time of the current connection's last tick (or of its start)

    def view(self) -> SourceView:
        """The state and the coins served now (a tick within `stall_s`, not refused), for failover."""
        now = self.clock()
        fresh = [s for s, t in list(self._last_tick.items()) if now - t < self.stall_s]
        return SourceView(self.stats.state, frozenset(fresh) - self.stats.unlisted)

    async def run(self, stop: asyncio.Event) -> None:
        """Connect and read until `stop` is set, reconnecting after every drop or stall."""
        failures = 0
        while not stop.is_set():
            if not await self._within_connect_limit(stop):
                break
            self.stats.state = CONNECTING
            try:
                delivered = await self._session(stop)
            except Exception as exc:  # a bug here must not end the stream: counted, logged, retried
                delivered = False
                self.stats.last_error = internal_error(exc)
                log.error("stream_internal_error", exc=True, source=self.name)
            self.throttle.forget()
            if stop.is_set():
                break
            failures = 1 if delivered else failures + 1
            delay = self.backoff.delay(failures)
            self.stats.reconnects += 1
            if self.stats.state != STALLED:
                self.stats.state = DOWN
            log.warning(
                "stream_reconnecting",
                source=self.name,
                state=self.stats.state,
                reason=self.stats.last_error,
                failures=failures,
                in_s=round(delay, 2),
            )
            await wait(stop, delay)
        self.stats.state = DOWN

    async def _within_connect_limit(self, stop: asyncio.Event) -> bool:
        """Wait until one more connection attempt keeps the exchange's limit, and count it made.
        False: stopped while waiting."""
        delay = self.connect_window.wait_s(self.clock())
        if delay > 0:
            self.stats.limit_waits += 1
            limit = self.connect_window.limit
            log.warning(
                "stream_connect_limit_wait",
                source=self.name,
                attempts=limit.attempts,
                window_s=limit.window_s,
                in_s=round(delay, 2),
            )
            await wait(stop, delay)
            if stop.is_set():
                return False
        self.connect_window.note(self.clock())
        return True

    async def _session(self, stop: asyncio.Event) -> bool:
        """One connection, subscribed and read until it drops, stalls or `stop`. True: it gave ticks."""
        self._delivered = False
        self._resubscribe = False
        try:
            async with connect(
                self.url,
                open_timeout=self.open_timeout_s,
                ping_interval=self.ping_interval_s,
                ping_timeout=self.ping_interval_s,
                close_timeout=2.0,
            ) as ws:
                self.stats.connects += 1
                coins = self._subscribable()
                for message in self.adapter.subscribe(coins):
                    await ws.send(message)
                log.info("stream_connected", source=self.name, url=self.url, coins=",".join(coins))
                return await self._read(ws, stop)
        except ConnectionClosed as exc:
            self.stats.last_error = f"closed:{exc.rcvd.code}" if exc.rcvd else "closed:no_close_frame"
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            self.stats.last_error = f"connect:{type(exc).__name__}"
            log.warning("stream_connect_failed", source=self.name, url=self.url, error=str(exc)[:200])
        return self._delivered

    async def _read(self, ws: ClientConnection, stop: asyncio.Event) -> bool:
        last_good = self._ticked = self.clock()
        tickless_s = TICKLESS_STALLS * self.stall_s
        while not stop.is_set():
            now = self.clock()
            due = min(last_good + self.stall_s, self._ticked + tickless_s)
            timeout = min(self.throttle.wait_s(now), due - now, STOP_CHECK_S)
            frame: str | bytes | None = None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(timeout, 0.001)):
                    frame = await ws.recv()
            now = self.clock()
            if frame is not None and self._on_frame(frame, now):
                last_good = now
            if self._resubscribe:
                await self._subscribe_again(ws)
            self._flush(now)
            if now - last_good >= self.stall_s or now - self._ticked >= tickless_s:
                self.stats.stalls += 1
                self.stats.state = STALLED
                self.stats.last_error = "stalled"
                silent = round(now - last_good, 1)
                log.warning(
                    "stream_stalled",
                    source=self.name,
                    silent_s=silent,
                    tickless_s=round(now - self._ticked, 1),
                )
                break
        return self._delivered

    def _subscribable(self) -> list[str]:
        """The coins to subscribe: those wanted that the exchange has not refused."""
        return [s for s in self.symbols if s not in self.stats.unlisted]

    async def _subscribe_again(self, ws: ClientConnection) -> None:
        """After a refusal that voided the subscription: subscribe the coins not refused."""
        self._resubscribe = False
        coins = self._subscribable()
        if not coins:
            return
        self.stats.resubscribes += 1
        for message in self.adapter.subscribe(coins):
            await ws.send(message)
        log.warning("stream_subscribed_again", source=self.name, coins=",".join(coins))

    def _on_frame(self, frame: str | bytes, now: float) -> bool:
        """Count and take in one frame. True: it was usable (a tick or a control message)."""
        self.stats.frames += 1
        received = utcnow()
        self.stats.last_frame_ts = received
        try:
            parsed = self.adapter.parse(frame)
        except FrameError as exc:
            self._reject(exc.reason, exc.detail, frame)
            return False
        except Exception as exc:  # an adapter's bug: one frame refused, the stream goes on
            self._reject(internal_error(exc), str(exc), frame)
            return False
        if parsed.control is not None:
            self._control(parsed)
            return True
        if parsed.untyped:
            self._untyped(frame)
        taken = 0
        self.quotes.receive(received)
        for tick in parsed.ticks:
            if tick.symbol not in self._wanted:
                self._reject("unknown_pair", tick.symbol, frame)
                continue
            try:
                quote = self.quotes.quote(tick.symbol, tick.price, tick.event_time)
            except InvalidQuote as exc:
                self._reject(exc.reason, exc.detail, frame)
                continue
            self.throttle.offer(quote)
            self._last_tick[tick.symbol] = now
            taken += 1
        self.stats.ticks += taken
        if taken:
            self._ticked = now
            self._delivered = True
            if self.stats.state != LIVE:
                self.stats.state = LIVE
                log.info("stream_live", source=self.name)
        return taken > 0

    def _untyped(self, frame: str | bytes) -> None:
        """Counted; logged the first time, with the frame: the exchange may have added a field,
        which costs every frame the untyped parse until the shape lists it."""
        self.stats.untyped += 1
        if self.stats.untyped == 1:
            log.warning("stream_frame_untyped", source=self.name, frame=repr(frame[:200]))

    def _control(self, parsed: Parsed) -> None:
        self.stats.controls += 1
        if parsed.unlisted:
            asked = self._wanted.intersection(parsed.unlisted) - self.stats.unlisted
            self.stats.unlisted = self.stats.unlisted | frozenset(parsed.unlisted)
            log.warning("stream_pairs_refused", source=self.name, coins=",".join(parsed.unlisted))
            if asked and self.adapter.refusal_voids_subscription:
                self._resubscribe = True

    def _flush(self, now: float) -> None:
        for quote in self.throttle.due(now):
            self.stats.quotes += 1
            try:
                self.sink(quote)
            except Exception:  # the sink's failure is the sink's to report; the stream goes on
                self.stats.sink_errors += 1
                log.error("stream_sink_failed", exc=True, source=self.name, coin=quote.symbol)

    def _reject(self, reason: str, detail: str, frame: str | bytes) -> None:
        self.stats.rejects[reason] += 1
        now = self.clock()
        last = self._logged.get(reason)
        if last is None or now - last >= self.reject_log_every_s:
            self._logged[reason] = now
            log.warning(
                "stream_frame_rejected",
                source=self.name,
                reason=reason,
                detail=detail[:120],
                frame=repr(frame[:80]),
                count=self.stats.rejects[reason],
            )


async def wait(stop: asyncio.Event, seconds: float) -> None:
    """Sleep `seconds`, or less when `stop` is set."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await stop.wait()


class StreamRunner:
    """Runs connections in one asyncio loop on a daemon thread: `start()`, then `stop()`."""

    def __init__(self, connections: Collection[StreamConnection]) -> None:
        self.connections = list(connections)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="streams", daemon=True)

    def views(self) -> Mapping[str, SourceView]:
        return {c.name: c.view() for c in self.connections}

    def start(self) -> StreamRunner:
        self._thread.start()
        self._ready.wait(10.0)
        return self

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._ready.set()
        await asyncio.gather(*(c.run(self._stop) for c in self.connections))

    def stop(self, timeout_s: float = 10.0) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop ended in between
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout_s)

    def __enter__(self) -> StreamRunner:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
