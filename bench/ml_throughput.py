"""Ticks per second through decoding, validation, the four models, the signal rule and scoring.

One core, 1,000 symbols, each a random walk with hourly ticks in event time; messages are
pre-encoded JSON as they arrive from the broker. No I/O: this measures the per-tick CPU cost.
"""

from __future__ import annotations

import json
import platform
import random
import time
from datetime import UTC, datetime, timedelta

from cryptoviz.models.engine import ModelConfig, SymbolModel
from cryptoviz.schema import decode, encode, make_quote

SYMBOLS = [f"S{i:04d}" for i in range(1000)]
TICKS_PER_SYMBOL = 100


def main() -> None:
    rng = random.Random(1)
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    prices = {s: rng.uniform(1, 1000) for s in SYMBOLS}
    messages = []
    for i in range(TICKS_PER_SYMBOL):
        for s in SYMBOLS:
            prices[s] *= 1 + rng.gauss(0, 0.01)
            messages.append(
                encode(make_quote(s, prices[s], t0 + timedelta(hours=i), ingest_ts=t0 + timedelta(hours=i)))
            )
    allowed = set(SYMBOLS)
    config = ModelConfig()
    models = {s: SymbolModel(config) for s in SYMBOLS}
    start = time.perf_counter()
    scored = 0
    for raw in messages:
        q = decode(raw, allowed)
        out = models[q.symbol].update(q.event_time, q.price_usd)
        scored += out.scored if out is not None else 0
    elapsed = time.perf_counter() - start
    n = len(messages)
    decode_start = time.perf_counter()
    for raw in messages:
        decode(raw, allowed)
    decode_s = time.perf_counter() - decode_start
    rate = n / elapsed
    print(f"machine: {platform.machine()} python {platform.python_version()}, one process")
    print(f"{n} ticks, {len(SYMBOLS)} symbols, {scored} predictions scored, {elapsed:.2f}s")
    print(
        f"ticks/s: {rate:,.0f} (target 200,000); {elapsed / n * 1e6:.2f} us/tick, "
        f"of which decode+validate {decode_s / n * 1e6:.2f} us"
    )
    print(
        json.dumps(
            {
                "bench": "ml_throughput",
                "ticks_per_s": round(rate),
                "us_per_tick": round(elapsed / n * 1e6, 2),
                "decode_us_per_tick": round(decode_s / n * 1e6, 2),
                "symbols": len(SYMBOLS),
                "target_ticks_per_s": 200000,
            }
        )
    )


if __name__ == "__main__":
    main()
