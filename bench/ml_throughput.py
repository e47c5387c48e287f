"""Ticks per second through decoding, validation, the four models, the forecast, the signal rule and
scoring: the compiled core (`ModelBook`, as the processor runs it) and, on a slice, the reference
engine it is tested against.

One core, 1,000 symbols, each a random walk with hourly ticks in event time; messages are
pre-encoded JSON as they arrive from the broker, decoded and validated one by one (the contract),
then applied in batches of BATCH ticks (a broker fetch's worth). No I/O: this measures the per-tick
CPU cost. The core's compilation is done (or loaded from numba's cache) before the clock starts.
"""

from __future__ import annotations

import json
import platform
import random
import time
from datetime import UTC, datetime, timedelta

import numpy as np

from cryptoviz.models import kernel
from cryptoviz.models.book import ModelBook
from cryptoviz.models.engine import ModelConfig, SymbolModel
from cryptoviz.schema import decode, encode, make_quote

SYMBOLS = [f"S{i:04d}" for i in range(1000)]
TICKS_PER_SYMBOL = 100
BATCH = 1000
REFERENCE_TICKS = 20_000  # the reference engine is timed on the first ones only (about 5 s)


def messages() -> list[bytes]:
    rng = random.Random(1)
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    prices = {s: rng.uniform(1, 1000) for s in SYMBOLS}
    out = []
    for i in range(TICKS_PER_SYMBOL):
        for s in SYMBOLS:
            prices[s] *= 1 + rng.gauss(0, 0.01)
            out.append(
                encode(make_quote(s, prices[s], t0 + timedelta(hours=i), ingest_ts=t0 + timedelta(hours=i)))
            )
    return out


def main() -> None:
    raw = messages()
    allowed = set(SYMBOLS)
    config = ModelConfig()
    ModelBook(config).apply(np.zeros(1, dtype=np.int64), np.zeros(1), np.ones(1))  # compile or load
    book = ModelBook(config)
    n = len(raw)
    start = time.perf_counter()
    core_s = 0.0
    scored = 0
    for b in range(0, n, BATCH):
        quotes = [decode(m, allowed) for m in raw[b : b + BATCH]]
        rows = np.fromiter((book.row(q.symbol) for q in quotes), dtype=np.int64, count=len(quotes))
        ts = np.fromiter((q.event_time for q in quotes), dtype=np.float64, count=len(quotes))
        prices = np.fromiter((q.price_usd for q in quotes), dtype=np.float64, count=len(quotes))
        c0 = time.perf_counter()
        out = book.apply(rows, ts, prices)
        core_s += time.perf_counter() - c0
        scored += int(out[:, 1].sum())
    elapsed = time.perf_counter() - start
    decode_start = time.perf_counter()
    for m in raw:
        decode(m, allowed)
    decode_s = time.perf_counter() - decode_start

    models = {s: SymbolModel(config) for s in SYMBOLS}
    ref_start = time.perf_counter()
    for m in raw[:REFERENCE_TICKS]:
        q = decode(m, allowed)
        models[q.symbol].update(q.event_time, q.price_usd)
    ref_s = time.perf_counter() - ref_start

    rate = n / elapsed
    ref_rate = REFERENCE_TICKS / ref_s
    print(
        f"machine: {platform.machine()} python {platform.python_version()}, one process, core: {kernel.build}"
    )
    print(
        f"{n} ticks, {len(SYMBOLS)} symbols, batches of {BATCH}, {scored} predictions scored, {elapsed:.2f}s"
    )
    print(
        f"ticks/s: {rate:,.0f} (target 200,000); {elapsed / n * 1e6:.2f} us/tick, of which "
        f"decode+validate {decode_s / n * 1e6:.2f} us, the compiled core {core_s / n * 1e6:.2f} us"
    )
    print(
        f"reference engine (pure Python, tests only): {ref_rate:,.0f} ticks/s on the first {REFERENCE_TICKS}"
    )
    print(
        json.dumps(
            {
                "bench": "ml_throughput",
                "ticks_per_s": round(rate),
                "us_per_tick": round(elapsed / n * 1e6, 2),
                "decode_us_per_tick": round(decode_s / n * 1e6, 2),
                "core_us_per_tick": round(core_s / n * 1e6, 3),
                "core_ticks_per_s": round(n / core_s),
                "core_build": kernel.build,
                "reference_ticks_per_s": round(ref_rate),
                "symbols": len(SYMBOLS),
                "target_ticks_per_s": 200000,
            }
        )
    )


if __name__ == "__main__":
    main()
