"""What `KAFKA_FETCH_MAX_WAIT_MS` does on the local broker: publish -> read latency of a bare
kafka-python consumer (no decoding, no models) at 1,000 messages/s, for several waits, on the
in-memory broker the benches use and on the durable one the local stack runs (Tansu on S3); and
how fast each setting reads a backlog of 20,000 messages on the durable broker.

Usage: python bench/fetch_wait.py [WAIT_MS ...]   (default: 500 50 20 10)
"""

from __future__ import annotations

import platform
import sys
import threading
import time

from kafka import KafkaConsumer

from cryptoviz import bus
from cryptoviz.testing.benchlog import emit_json
from cryptoviz.testing.harness import RealServers

RATE = 1000
LIVE = 3000  # messages timed one by one, at RATE
BACKLOG = 20_000
STALL_S = 30.0  # the backlog read gives up after this long without a message


def consumer(bootstrap: str, topic: str, wait_ms: int, start: str) -> KafkaConsumer:
    cons = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"fetch-wait-{topic}",
        auto_offset_reset=start,
        enable_auto_commit=False,
        fetch_max_wait_ms=wait_ms,
        max_partition_fetch_bytes=4 << 20,
    )
    while not cons.assignment():
        cons.poll(timeout_ms=100)
    return cons


def live(bootstrap: str, topic: str, cons: KafkaConsumer) -> tuple[float, float]:
    """p50 and p99 ms from send to poll of LIVE messages sent at RATE."""
    sent: dict[int, float] = {}
    lat: list[float] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            for records in cons.poll(timeout_ms=100, max_records=500).values():
                now = time.perf_counter()
                lat.extend((now - sent[int(r.value)]) * 1000 for r in records if int(r.value) in sent)

    reader = threading.Thread(target=read)
    reader.start()
    prod = bus.producer(bootstrap, linger_ms=0)
    start = time.perf_counter()
    for i in range(LIVE):
        while time.perf_counter() < start + i / RATE:
            time.sleep(0.0005)
        sent[i] = time.perf_counter()
        prod.send(topic, key=str(i % 14).encode(), value=str(i).encode())
    prod.flush()
    deadline = time.time() + 30
    while len(lat) < LIVE and time.time() < deadline:
        time.sleep(0.05)
    done.set()
    reader.join()
    prod.close()
    lat.sort()
    return lat[len(lat) // 2], lat[int(len(lat) * 0.99)]


def backlog(bootstrap: str, topic: str, wait_ms: int) -> tuple[float, int, int]:
    """(messages/s reading the backlog, from the first one read to the last; messages the broker
    acknowledged of BACKLOG; messages read). The read stops once it has every acknowledged message,
    or after STALL_S without one: a broker that loses or withholds some is reported, not waited on."""
    prod = bus.producer(bootstrap, linger_ms=20)
    futures = [prod.send(topic, key=str(i % 14).encode(), value=str(i).encode()) for i in range(BACKLOG)]
    prod.flush()
    prod.close()
    acked = sum(1 for f in futures if f.succeeded())
    cons = consumer(bootstrap, topic, wait_ms, "earliest")
    got, first, last = 0, None, time.perf_counter()
    while got < acked and time.perf_counter() - last < STALL_S:
        batch = cons.poll(timeout_ms=200, max_records=500)
        if batch:
            last = time.perf_counter()
            first = first or last
        got += sum(len(records) for records in batch.values())
    rate = got / (last - first) if first is not None and last > first else 0.0
    cons.close()
    return rate, acked, got


def main() -> None:
    waits = [int(w) for w in sys.argv[1:]] or [500, 50, 20, 10]
    results: dict[str, dict] = {}
    with RealServers() as real:
        brokers = {"memory": real.bootstrap, "durable": real.start_durable_broker().address}
        for kind, bootstrap in brokers.items():
            for wait in waits:
                topic = f"{kind}-{wait}"
                bus.ensure_topics(bootstrap, (topic,), partitions=4)
                cons = consumer(bootstrap, topic, wait, "latest")
                p50, p99 = live(bootstrap, topic, cons)
                cons.close()
                row = {"p50_ms": round(p50, 1), "p99_ms": round(p99, 1)}
                if kind == "durable":
                    rate, acked, got = backlog(bootstrap, f"{topic}-backlog", wait)
                    row |= {"backlog_per_s": round(rate), "backlog_acked": acked, "backlog_read": got}
                results[f"{kind}_{wait}"] = row
                print(
                    f"{kind:8} broker, fetch_max_wait_ms {wait:4}: "
                    + ", ".join(f"{k} {v}" for k, v in row.items())
                )
    print(f"machine: {platform.machine()} python {platform.python_version()}; {RATE} msg/s, {LIVE} timed")
    emit_json({"bench": "fetch_wait", "results": results})


if __name__ == "__main__":
    main()
