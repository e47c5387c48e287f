"""The exchange streams' cost: frames decoded and turned into quotes per second on one core, and the
time from a frame's arrival to its quote acknowledged by the local broker.

1. Decode, no network: frames shaped as each exchange documents them
   (`cryptoviz.testing.exchange_frames`), pre-encoded as they arrive off the socket, go one by one
   through the path `StreamConnection._read` takes for each frame: `_on_frame` (the adapter's parse,
   the pair check, `make_quote` through the contract's validator, `Throttle.offer`, the counters),
   then `_flush` (the throttle's hand-over, a quote per coin per second to a sink that keeps it).
   The figure is ticks made into quotes per second: each a quote built and validated, which the
   throttle then keeps or supersedes. Per exchange and channel; the headline is the slowest of the
   channels the scraper subscribes (Binance trade, Coinbase ticker, Kraken ticker).
2. Frame -> published: the scraper's stream path as `scraper.app` builds it (`Streams`: the
   connection in its asyncio thread, the failover, the bounded queue, the pump thread,
   `PublishGuard`, the `Publisher` with acks=all on both topics) against a local exchange server
   (`cryptoviz.testing.exchange_ws`, a frame per pair every 50 ms) and the real broker and Redis.
   Instrumented at the seams by wrapping methods of the instances (what they do is unchanged): the
   frame's arrival (`_on_frame` called), the quote handed over by the throttle (the connection's
   sink), taken by the pump (`StreamFeed.take`), acknowledged by the broker (`Publisher._send`
   returned). A quote is the latest of its coin in its interval, so its frame is the newest one
   when the throttle hands it over. Each exchange alone, STREAM_QUOTE_INTERVAL_MS at its default.
"""

from __future__ import annotations

import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import orjson

from cryptoviz import bus
from cryptoviz.schema import Quote
from cryptoviz.scraper.publisher import Publisher
from cryptoviz.scraper.sources.streams import Binance, Kraken, adapter, binance, coinbase, kraken
from cryptoviz.scraper.sources.streams.base import StreamAdapter
from cryptoviz.scraper.sources.streams.connection import StreamConnection
from cryptoviz.scraper.streaming import PublishGuard, Streams
from cryptoviz.service import Stop
from cryptoviz.settings import HISTORY_2025H1, ScraperSettings
from cryptoviz.telemetry import Telemetry
from cryptoviz.testing.benchlog import emit_json
from cryptoviz.testing.exchange_frames import (
    KRAKEN_FIRST_CHANNEL,
    binance_frame,
    coinbase_ticker,
    kraken_ticker,
    kraken_trade,
    num,
)
from cryptoviz.testing.exchange_ws import EXCHANGES, LocalExchange
from cryptoviz.testing.harness import RealServers, wait_for

FRAMES = 200_000  # per exchange and channel, timed
WARM_FRAMES = 5_000  # before the clock: imports, caches, the throttle's dicts
TARGET_QUOTES_PER_S = 50_000
# (exchange, channel); the first of each exchange is the one the scraper subscribes
CHANNELS = (
    ("binance", "trade"),
    ("binance", "bookTicker"),
    ("binance", "kline_1m"),
    ("coinbase", "ticker"),
    ("kraken", "ticker"),
    ("kraken", "trade"),
)
SUBSCRIBED = {"binance": "trade", "coinbase": "ticker", "kraken": "ticker"}
LATENCY_S = 30.0  # per exchange
FRAME_INTERVAL_S = 0.05  # the local server's pace: a frame per pair every 50 ms
HISTORY_COINS = ["BTC", "ETH", "BNB", "SOL", "XRP", "DOGE", "USDT"]  # the file's seven


def make_adapter(exchange: str, channel: str) -> StreamAdapter:
    if exchange == "binance":
        return Binance(channel)
    if exchange == "kraken":
        return Kraken(channel)
    return adapter(exchange)


def frames(exchange: str, channel: str, coins: Sequence[str], n: int) -> list[str]:
    """`n` frames, the coins in turn, each a millisecond after the previous and all in the past."""
    start_ms = int(time.time() * 1000) - n - 60_000
    pairs = {"binance": binance.PAIRS, "coinbase": coinbase.PAIRS, "kraken": kraken.PAIRS}[exchange]
    channel_ids = {s: KRAKEN_FIRST_CHANNEL + i for i, s in enumerate(coins)}
    out = []
    for i in range(n):
        coin = coins[i % len(coins)]
        ms, price = start_ms + i, num(100.0 + (i % 1000) / 100)
        body: object
        if exchange == "binance":
            body = binance_frame(pairs[coin], channel, price, ms, i)
        elif exchange == "coinbase":
            body = coinbase_ticker(pairs[coin], price, ms, i)
        elif channel == "trade":
            body = kraken_trade(channel_ids[coin], pairs[coin], num(float(price), 5), ms / 1000)
        else:
            body = kraken_ticker(channel_ids[coin], pairs[coin], num(float(price), 5))
        out.append(orjson.dumps(body).decode())
    return out


def decode_rate(exchange: str, channel: str) -> tuple[float, float, int]:
    """(ticks made into quotes per second, the share of the time the adapter's parse alone takes,
    quotes handed over) over FRAMES frames."""
    source = make_adapter(exchange, channel)
    coins = sorted(source.lists())
    handed: list[Quote] = []
    conn = StreamConnection(source, "ws://127.0.0.1:9", coins, handed.append, reject_log_every_s=60)
    every = frames(exchange, channel, coins, WARM_FRAMES + FRAMES)
    warm, timed = every[:WARM_FRAMES], every[WARM_FRAMES:]
    for frame in warm:
        conn._on_frame(frame, conn.clock())
    ticks_before = conn.stats.ticks
    clock = conn.clock
    t0 = time.perf_counter()
    for frame in timed:  # what _read does with each frame it receives
        now = clock()
        conn._on_frame(frame, now)
        conn._flush(now)
    elapsed = time.perf_counter() - t0
    ticks = conn.stats.ticks - ticks_before
    assert ticks == FRAMES and not conn.stats.rejects, f"{exchange} {channel}: {dict(conn.stats.rejects)}"
    parse = source.parse
    t0 = time.perf_counter()
    for frame in timed:
        parse(frame)
    parse_share = (time.perf_counter() - t0) / elapsed
    return ticks / elapsed, parse_share, len(handed)


Key = tuple[str, datetime]


def key(q: Quote) -> Key:
    return (q.symbol, q.source_ts)


@dataclass
class Probe:
    """perf_counter() of each quote at each seam, by (symbol, event time)."""

    arrived: dict[Key, float] = field(default_factory=dict)
    handed: dict[Key, float] = field(default_factory=dict)
    taken: dict[Key, float] = field(default_factory=dict)
    acked: dict[Key, float] = field(default_factory=dict)
    frame_at: float = 0.0
    acked_at: float = 0.0


def instrument(streams: Streams, publisher: Publisher, probe: Probe) -> None:
    """Wrap the seams' methods on these instances: each wrapper notes the time and calls through."""

    def wrap(obj: object, name: str, before: Callable | None = None, after: Callable | None = None) -> None:
        inner = getattr(obj, name)

        def call(*args: object) -> object:
            if before is not None:
                before(*args)
            out = inner(*args)
            if after is not None:
                after(out, *args)
            return out

        setattr(obj, name, call)

    def stamp(into: dict[Key, float]) -> Callable[..., None]:
        return lambda quote, *_: into.__setitem__(key(quote), time.perf_counter())

    def frame_arrives(*_: object) -> None:
        probe.frame_at = time.perf_counter()

    def taken(out: list[Quote], *_: object) -> None:
        now = time.perf_counter()
        probe.taken.update((key(q), now) for q in out)

    def sent(*_: object) -> None:
        probe.acked_at = time.perf_counter()

    def written(_: object, quotes: Sequence[Quote]) -> None:
        probe.acked.update((key(q), probe.acked_at) for q in quotes)

    for conn in streams.connections:
        wrap(conn, "_on_frame", before=frame_arrives)
        wrap(conn.throttle, "offer", before=lambda q: probe.arrived.__setitem__(key(q), probe.frame_at))
        wrap(conn, "sink", before=stamp(probe.handed))
    wrap(streams.feed, "take", after=taken)
    wrap(publisher, "_send", after=sent)
    wrap(publisher, "write", after=written)


def run_exchange(real: RealServers, exchange: str, seconds: float) -> Probe:
    """The scraper's stream path from one local exchange to the broker for `seconds`."""
    server = LocalExchange(exchange, [HISTORY_2025H1], frame_interval_s=FRAME_INTERVAL_S)
    settings = ScraperSettings.model_validate(
        {"stream_sources": [exchange], f"{exchange}_ws_url": server.url}
    )
    telemetry = Telemetry(f"bench-{exchange}", real.redis_client())
    publisher = Publisher(bus.producer(real.bootstrap), real.redis_client(), telemetry)
    guard = PublishGuard(publisher, telemetry)
    streams = Streams(settings, HISTORY_COINS, guard, telemetry, Stop())
    probe = Probe()
    instrument(streams, publisher, probe)
    streams.release_all()
    streams.start()
    try:
        wait_for(lambda: probe.acked, 30, f"{exchange}: a first quote acknowledged")
        probe.acked.clear()  # the connection's first second is not the steady state
        time.sleep(seconds)  # the measurement window: quotes flow on their own
    finally:
        streams.stop()
        publisher.close()
        server.close()
    return probe


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def breakdown(probe: Probe) -> dict[str, list[float]]:
    """Milliseconds per stage of every quote acknowledged in the window."""
    stages: dict[str, list[float]] = {"total": [], "throttle": [], "queue": [], "publish": [], "after": []}
    for k, acked in probe.acked.items():
        arrived, handed, taken = probe.arrived[k], probe.handed[k], probe.taken[k]
        stages["total"].append((acked - arrived) * 1000)
        stages["throttle"].append((handed - arrived) * 1000)
        stages["queue"].append((taken - handed) * 1000)
        stages["publish"].append((acked - taken) * 1000)
        stages["after"].append((acked - handed) * 1000)
    return stages


def latency(seconds: float) -> dict[str, dict[str, list[float]]]:
    with RealServers() as real:
        bus.ensure_topics(real.bootstrap, partitions=4)
        return {name: breakdown(run_exchange(real, name, seconds)) for name in EXCHANGES}


def show_latency(per: dict[str, dict[str, list[float]]]) -> dict[str, float]:
    print("frame arrived -> quote acknowledged by the broker (ms), per stage:")
    print("  throttle: held until its interval ends; queue: failover, bounded queue, pump wake-up;")
    print("  publish: the batch to both topics with acks=all; after: queue + publish, the scraper's own")
    print(
        "  (throttle is the newest frame's age when its interval ends: the server sends a frame per pair "
        f"every {FRAME_INTERVAL_S * 1000:.0f} ms)"
    )
    figures: dict[str, float] = {}
    for name, stages in per.items():
        parts = ", ".join(
            f"{stage} p50 {pct(v, 0.5):.1f} p99 {pct(v, 0.99):.1f}" for stage, v in stages.items()
        )
        print(f"  {name:<9} {len(stages['total'])} quotes: {parts}")
        figures[f"{name}_p99_ms"] = round(pct(stages["total"], 0.99), 2)
    every = {s: [x for st in per.values() for x in st[s]] for s in per[EXCHANGES[0]]}
    for stage, values in every.items():
        figures[f"{stage}_p50_ms"] = round(pct(values, 0.5), 2)
        figures[f"{stage}_p99_ms"] = round(pct(values, 0.99), 2)
    figures["frame_to_publish_p50_ms"] = figures.pop("total_p50_ms")
    figures["frame_to_publish_p99_ms"] = figures.pop("total_p99_ms")
    figures["latency_quotes"] = len(every["total"])
    return figures


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else LATENCY_S
    print(f"machine: {platform.machine()} {platform.processor() or ''} python {platform.python_version()}")
    print(f"decode: {FRAMES:,} frames per exchange and channel, one core, no network")
    rates: dict[str, float] = {}
    for exchange, channel in CHANNELS:
        rate, parse_share, handed = decode_rate(exchange, channel)
        rates[f"{exchange}_{channel}"] = rate
        print(
            f"  {exchange:<9} {channel:<11} {rate:>9,.0f} quotes/s; the adapter's parse {parse_share:.0%} of "
            f"the time, make_quote, the throttle and the counters the rest ({handed} handed over)"
        )
    slowest = min(rates[f"{e}_{c}"] for e, c in SUBSCRIBED.items())
    print(f"slowest subscribed channel: {slowest:,.0f} quotes/s (target {TARGET_QUOTES_PER_S:,})")
    figures = show_latency(latency(seconds))
    emit_json(
        {
            "bench": "stream_source",
            "quotes_per_s": round(slowest),
            **{f"{name}_quotes_per_s": round(rate) for name, rate in rates.items()},
            **figures,
            "latency_window_s": seconds,
            "target_quotes_per_s": TARGET_QUOTES_PER_S,
        }
    )


if __name__ == "__main__":
    main()
