"""Ticks per second through decoding, validation, the four models, the forecast, the signal rule and
scoring: the compiled core (`ModelBook`, as the processor runs it) and, on a slice, the reference
engine it is tested against.

One core, 1,000 symbols, each a random walk with hourly ticks in event time; messages are
pre-encoded JSON as they arrive from the broker, decoded and validated one by one (the contract,
against one clock reading per batch, as the processor does), then applied in batches of BATCH ticks
(a broker fetch's worth). No I/O: this measures the per-tick CPU cost.

The figure is the steady state, as a running processor sees it: the first WARM_TICKS of every
symbol are applied before the clock starts (the core compiled or loaded, each symbol's row made,
its queues grown to what the horizons hold, and every volatility regime's residuals learnt, so the
forecasts come from what was learnt, not from the cheaper placeholder). That warm-up is timed too
and printed as the cold figure (first sight of a symbol costs its row, about 40 us, and the first
touch of new memory).

Where the core's time goes: it is also timed on RESIDENT_SYMBOLS symbols, whose state all stays in
the CPU's caches (a thousand symbols' state, about 40 KB each, does not). The difference between
the two per-tick figures is the core waiting on memory, which the machine's other tenants share.
"""

from __future__ import annotations

import platform
import random
import time
from datetime import UTC, datetime, timedelta

import core_compare
import numpy as np

from cryptoviz.models import kernel
from cryptoviz.models.book import ModelBook
from cryptoviz.models.engine import ModelConfig, SymbolModel
from cryptoviz.schema import decode, encode, make_quote
from cryptoviz.testing.benchlog import emit_json

SYMBOLS = [f"S{i:04d}" for i in range(1000)]
TICKS_PER_SYMBOL = 100
WARM_TICKS = 400  # per symbol, before the clock: every regime's 50 hours of residuals and then some
BATCH = 1000
REFERENCE_TICKS = 20_000  # the reference engine is timed on the first ones only (about 5 s)
RESIDENT_SYMBOLS = 40  # a symbol count whose state the caches hold (about 1.6 MB)
RESIDENT_TICKS = 100_000


def messages() -> list[bytes]:
    rng = random.Random(1)
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    prices = {s: rng.uniform(1, 1000) for s in SYMBOLS}
    out = []
    for i in range(WARM_TICKS + TICKS_PER_SYMBOL):
        for s in SYMBOLS:
            prices[s] *= 1 + rng.gauss(0, 0.01)
            out.append(
                encode(make_quote(s, prices[s], t0 + timedelta(hours=i), ingest_ts=t0 + timedelta(hours=i)))
            )
    return out


def run(book: ModelBook, raw: list[bytes], allowed: set[str]) -> tuple[float, float, int]:
    """Decode and apply `raw` in batches, as the processor does: (seconds, of which in the core,
    predictions scored)."""
    start = time.perf_counter()
    core_s = 0.0
    scored = 0
    for b in range(0, len(raw), BATCH):
        now = datetime.now(UTC)
        quotes = [decode(m, allowed, now) for m in raw[b : b + BATCH]]
        rows = np.fromiter((book.row(q.symbol) for q in quotes), dtype=np.int64, count=len(quotes))
        ts = np.fromiter((q.event_time for q in quotes), dtype=np.float64, count=len(quotes))
        prices = np.fromiter((q.price_usd for q in quotes), dtype=np.float64, count=len(quotes))
        c0 = time.perf_counter()
        out = book.apply(rows, ts, prices)
        core_s += time.perf_counter() - c0
        scored += int(out[:, 1].sum())
    return time.perf_counter() - start, core_s, scored


def main() -> None:
    every = messages()
    warm, raw = every[: WARM_TICKS * len(SYMBOLS)], every[WARM_TICKS * len(SYMBOLS) :]
    allowed = set(SYMBOLS)
    config = ModelConfig()
    ModelBook(config).apply(np.zeros(1, dtype=np.int64), np.zeros(1), np.ones(1))  # compile or load
    book = ModelBook(config)
    cold_s, _, _ = run(book, warm, allowed)
    elapsed, core_s, scored = run(book, raw, allowed)
    decode_s, now = time_decode(raw, allowed)
    summary_us = time_summaries(book)
    resident_us = time_resident(config)
    ref_s = time_reference(config, every[:REFERENCE_TICKS], allowed, now)
    report(len(raw), len(warm), cold_s, elapsed, core_s, scored, decode_s, summary_us, resident_us, ref_s)


def time_decode(raw: list[bytes], allowed: set[str]) -> tuple[float, datetime]:
    """Seconds to decode and validate `raw` alone, and the clock reading it was validated against."""
    decode_start = time.perf_counter()
    now = datetime.now(UTC)
    for m in raw:
        decode(m, allowed, now)
    return time.perf_counter() - decode_start, now


def time_summaries(book: ModelBook) -> float:
    """Microseconds per symbol for its scoreboard summary, what the processor builds for each
    changed symbol's view."""
    summary_start = time.perf_counter()
    for symbol in SYMBOLS:
        book.summary(symbol)
    return (time.perf_counter() - summary_start) / len(SYMBOLS) * 1e6


def time_resident(config: ModelConfig) -> float:
    """Microseconds per tick in the core alone for RESIDENT_SYMBOLS symbols, in batches of BATCH
    ticks, after a warm-up of core_compare.WARM_HOURS hours each (core_compare's hourly random walks)."""
    book = ModelBook(config)
    sym, ts, prices = core_compare.ticks(book, RESIDENT_SYMBOLS, RESIDENT_TICKS)
    warm = core_compare.WARM_HOURS * RESIDENT_SYMBOLS
    for b in range(0, warm, BATCH):
        book.apply(sym[b : b + BATCH], ts[b : b + BATCH], prices[b : b + BATCH])
    start = time.perf_counter()
    for b in range(warm, len(sym), BATCH):
        book.apply(sym[b : b + BATCH], ts[b : b + BATCH], prices[b : b + BATCH])
    return (time.perf_counter() - start) / (len(sym) - warm) * 1e6


def time_reference(config: ModelConfig, raw: list[bytes], allowed: set[str], now: datetime) -> float:
    """Seconds the reference engine (pure Python) takes over `raw`, one model per symbol."""
    models = {s: SymbolModel(config) for s in SYMBOLS}
    ref_start = time.perf_counter()
    for m in raw:
        q = decode(m, allowed, now)
        models[q.symbol].update(q.event_time, q.price_usd)
    return time.perf_counter() - ref_start


def report(
    n: int,
    warm: int,
    cold_s: float,
    elapsed: float,
    core_s: float,
    scored: int,
    decode_s: float,
    summary_us: float,
    resident_us: float,
    ref_s: float,
) -> None:
    """Print the figures, then the bench's JSON line."""
    rate = n / elapsed
    ref_rate = REFERENCE_TICKS / ref_s
    print(
        f"machine: {platform.machine()} python {platform.python_version()}, one process, core: {kernel.build}"
    )
    print(
        f"{n} ticks, {len(SYMBOLS)} symbols, batches of {BATCH}, {scored} predictions scored, {elapsed:.2f}s"
        f" (after a warm-up of {warm} ticks: {warm / cold_s:,.0f} ticks/s cold)"
    )
    print(
        f"ticks/s: {rate:,.0f} (target 200,000); {elapsed / n * 1e6:.2f} us/tick, of which "
        f"decode+validate {decode_s / n * 1e6:.2f} us, the compiled core {core_s / n * 1e6:.2f} us"
    )
    print(
        f"the core on {RESIDENT_SYMBOLS} symbols, their state in the caches: {resident_us:.2f} us/tick; "
        f"waiting on memory with {len(SYMBOLS)}: {core_s / n * 1e6 - resident_us:.2f} us/tick"
    )
    print(
        f"a symbol's scoreboard summary (once per batch that changes it, not per tick): {summary_us:.0f} us"
    )
    print(
        f"reference engine (pure Python, tests only): {ref_rate:,.0f} ticks/s on the first {REFERENCE_TICKS}"
    )
    emit_json(
        {
            "bench": "ml_throughput",
            "ticks_per_s": round(rate),
            "us_per_tick": round(elapsed / n * 1e6, 2),
            "decode_us_per_tick": round(decode_s / n * 1e6, 2),
            "core_us_per_tick": round(core_s / n * 1e6, 3),
            "core_ticks_per_s": round(n / core_s),
            "core_build": kernel.build,
            "core_resident_us_per_tick": round(resident_us, 3),
            "resident_symbols": RESIDENT_SYMBOLS,
            "cold_ticks_per_s": round(warm / cold_s),
            "summary_us_per_symbol": round(summary_us),
            "reference_ticks_per_s": round(ref_rate),
            "symbols": len(SYMBOLS),
            "target_ticks_per_s": 200000,
        }
    )


if __name__ == "__main__":
    main()
