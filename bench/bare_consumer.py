"""The broker's floor for bench/ml_latency.py: a kafka-python consumer in a group of its own, with the
ML processor's fetch settings, that only reads each quote's symbol and event time and notes when it
arrived (`time.perf_counter`, the system's monotonic clock, so the bench's send times compare).

Usage: python bench/bare_consumer.py BOOTSTRAP TOPIC GROUP. Prints `ready` once it owns partitions;
at SIGTERM prints one JSON line, [[symbol, event time, arrival], ...] in arrival order, and exits.
"""

from __future__ import annotations

import signal
import sys
import time
from datetime import datetime

import orjson

from cryptoviz import bus
from cryptoviz.settings import KafkaSettings, MLSettings, load


def main() -> None:
    bootstrap, topic, group = sys.argv[1:4]
    kafka, ml = load(KafkaSettings), load(MLSettings)
    consumer = bus.consumer(
        bootstrap,
        topic,
        group_id=group,
        auto_offset_reset="latest",
        fetch_max_wait_ms=kafka.kafka_fetch_max_wait_ms,
        max_partition_fetch_bytes=kafka.kafka_max_partition_fetch_bytes,
    )
    stopped: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stopped.append(signum))
    while not consumer.assignment():
        consumer.poll(timeout_ms=100)
    print("ready", flush=True)
    arrivals: list[tuple[str, float, float]] = []
    while not stopped:
        for records in consumer.poll(timeout_ms=100, max_records=ml.ml_max_poll_records).values():
            now = time.perf_counter()
            for r in records:
                quote = orjson.loads(r.value)
                ts = datetime.fromisoformat(quote["source_ts"]).timestamp()
                arrivals.append((quote["symbol"], ts, now))
    bus.close_consumer(consumer, timeout_ms=1000)
    print(orjson.dumps(arrivals).decode(), flush=True)


if __name__ == "__main__":
    main()
