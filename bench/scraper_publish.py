"""Quotes per second the publisher sustains to the local broker: both topics, acks=all, keyed by symbol.

Starts a real broker and Redis through the harness, publishes real replayed quotes in batches of
BATCH (what one scrape cycle or one replay step hands over, at most), prints figures, ends with JSON.
"""

from __future__ import annotations

import platform
import time

from cryptoviz import bus
from cryptoviz.scraper.publisher import Publisher
from cryptoviz.scraper.sources.replay import history_to_quotes, read_history
from cryptoviz.settings import HISTORY_2024_2026
from cryptoviz.telemetry import Telemetry
from cryptoviz.testing.benchlog import emit_json
from cryptoviz.testing.harness import RealServers

N = 50_000
BATCH = 500


def main() -> None:
    quotes = [q for batch in history_to_quotes(read_history([HISTORY_2024_2026])) for q in batch][:N]
    with RealServers() as real:
        bus.ensure_topics(real.bootstrap, partitions=4)
        telemetry = Telemetry("bench", real.redis_client())
        publisher = Publisher(bus.producer(real.bootstrap), real.redis_client(), telemetry)
        publisher.write(quotes[:BATCH])  # warm-up: metadata, connections
        t0 = time.perf_counter()
        for i in range(0, len(quotes), BATCH):
            publisher.write(quotes[i : i + BATCH])
        elapsed = time.perf_counter() - t0
        publisher.close()
        counts = bus.topic_message_counts(real.bootstrap)
    rate = len(quotes) / elapsed
    print(f"machine: {platform.machine()} {platform.processor() or ''} python {platform.python_version()}")
    print(f"published {len(quotes)} quotes x 2 topics in {elapsed:.2f}s, batches of {BATCH}, acks=all")
    print(f"quotes/s: {rate:,.0f} (target 5,000); topic counts after: {counts}")
    emit_json(
        {
            "bench": "scraper_publish",
            "quotes_per_s": round(rate),
            "quotes": len(quotes),
            "batch": BATCH,
            "target_quotes_per_s": 5000,
        }
    )


if __name__ == "__main__":
    main()
