"""Latency from a quote published to its prediction readable in Redis, at 1,000 ticks/s.

The real broker and Redis, the real ml-processor service as its own process (COINS: the 14 known
coins), the platform's producer (`bus.producer`, as the scraper and the replay publish) sending
1,000 quotes/s for DURATION seconds (hourly event-time steps, as a replay), and a reader of the
symbols' ML summaries that reads each time the processor has stored a batch (told by a Redis
keyspace event; a reader reading in a loop takes most of a core from the processor and the broker
on 2 cores): a tick's latency is from its send to the first read that shows its event time. A tick
overtaken by the next one of its symbol before any read saw it is not counted (reported as
`missed`).

Then the broker's floor, on the same broker: the same ticks at the same rate to a fresh topic, read
by a bare consumer in its own process (bench/bare_consumer.py: the processor's fetch sizes, a wait
of FLOOR_FETCH_WAIT_MS) that notes when each one reaches it. Not at the same time as the
processor: on 2 cores a third reader slows the first.

The local broker (Tansu, in memory) answers a fetch more slowly the more record batches a partition
holds: with each quote a batch of its own (`linger_ms=0`) the latency rose through a run (p50 15 ms
in the first seconds, 35 ms in the last); the platform's
producer waits up to 5 ms to batch, and the batches are fewer.

What the platform controls is its own part: the targets are the processor's median overhead over
the floor (`overhead_p50_ms`, at most 3 ms) and its p99 over the floor's (`p99_ratio`, at most
1.15), both from the same run.
"""

from __future__ import annotations

import os
import platform
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import redis
from kafka import KafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from cryptoviz import bus, names
from cryptoviz.coins import COINS
from cryptoviz.schema import encode, make_quote
from cryptoviz.testing.benchlog import emit_json
from cryptoviz.testing.harness import RealServers

RATE = 1000
DURATION = 15
ROOT = Path(__file__).resolve().parent.parent
SYMBOLS = list(COINS)
T0 = datetime(2024, 1, 1, tzinfo=UTC)
# the bare consumer's fetch wait: of 1, 5, 20 and 500 ms (the processor's default), the fastest on the
# local broker; it answers an idle fetch late at 500 (p50 100 ms) and starves at 1
FLOOR_FETCH_WAIT_MS = 20


def summaries(client) -> list[dict]:
    """The ML summaries as Redis holds them."""
    return [orjson.loads(d) for d in client.mget([names.ml_summary_key(s) for s in SYMBOLS]) if d]


def stored_batches(client) -> redis.client.PubSub:
    """A subscription that gets a message when a processor's batch is stored: the keyspace event of
    its write of the cards' hash (in the batch's transaction, after its summaries). The reader reads
    then, as the floor's consumer reads when the broker answers its fetch."""
    client.config_set("notify-keyspace-events", "Kh")
    written = client.pubsub(ignore_subscribe_messages=True)
    written.subscribe(f"__keyspace@0__:{names.ML_CARDS}")
    return written


def batch_phases(client) -> dict[str, float]:
    """Batches and the mean ms of each phase of one (models, Redis write, commit), from the
    histograms on the processor's /metrics (its heartbeat says where that is)."""
    beat = next(orjson.loads(client.get(k)) for k in client.scan_iter("status:ml-processor:*"))
    text = urllib.request.urlopen(beat["gauges"]["metrics_url"], timeout=5).read().decode()
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            values[sample.name] = values.get(sample.name, 0.0) + sample.value
    count = values.get("cryptoviz_ml_models_seconds_count", 0.0)
    phases = {"batches": count}
    for phase in ("models", "store", "commit"):
        phases[phase] = values.get(f"cryptoviz_ml_{phase}_seconds_sum", 0.0) / max(count, 1) * 1000
    return phases


def publish(prod: KafkaProducer, topic: str) -> tuple[dict[tuple[str, float], float], float]:
    """RATE * DURATION quotes at RATE a second, hourly event-time steps: (symbol, event time) -> when
    each was sent, and the seconds the sending took."""
    sent: dict[tuple[str, float], float] = {}
    start = time.perf_counter()
    for i in range(RATE * DURATION):
        sym = SYMBOLS[i % len(SYMBOLS)]
        ts = T0 + timedelta(hours=1 + i // len(SYMBOLS))
        q = make_quote(sym, 100.0 + (i % 50), ts, ingest_ts=ts)
        due = start + i / RATE
        while (left := due - time.perf_counter()) > 0:
            time.sleep(min(left, 0.0005))
        sent[(sym, ts.timestamp())] = time.perf_counter()
        prod.send(topic, key=sym, value=encode(q))
    prod.flush()
    return sent, time.perf_counter() - start


def broker_floor(bootstrap: str, env: dict[str, str]) -> list[float]:
    """ms from send to a bare consumer of each tick, the ticks sent as `publish` sends them."""
    topic = "bench-floor"
    bus.ensure_topics(bootstrap, (topic,), partitions=4)
    bare = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "bare_consumer.py"), bootstrap, topic, "bench-floor"],
        env=env | {"KAFKA_FETCH_MAX_WAIT_MS": str(FLOOR_FETCH_WAIT_MS)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert bare.stdout is not None and bare.stdout.readline().strip() == "ready"
    prod = bus.producer(bootstrap)  # the platform's producer, as the scraper and the replay run it
    sent, _ = publish(prod, topic)
    prod.close()
    time.sleep(2)
    bare.send_signal(signal.SIGTERM)
    arrived = {(sym, ts): at for sym, ts, at in reversed(orjson.loads(bare.communicate(timeout=30)[0]))}
    return sorted((arrived[k] - t) * 1000 for k, t in sent.items() if k in arrived)


def main(read=summaries, bench: str = "ml_latency", what: str = "prediction readable in Redis") -> None:
    with RealServers() as real:
        bootstrap = real.bootstrap
        bus.ensure_topics(bootstrap, partitions=4)
        client = real.redis_client()
        env = os.environ | real.env() | {"COINS": ",".join(SYMBOLS), "ML_MAX_POLL_RECORDS": "500"}
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "ml-processor" / "main.py")], env=env, stderr=subprocess.DEVNULL
        )
        prod = bus.producer(bootstrap)  # the platform's producer, as the scraper and the replay run it
        warm = [make_quote(s, 100.0, T0, ingest_ts=T0) for s in SYMBOLS]
        for q in warm:  # wait until the processor is in the group and answering
            prod.send(names.TOPIC_STREAMING, key=q.symbol, value=encode(q))
        prod.flush()
        while len(read(client)) < len(SYMBOLS):
            time.sleep(0.05)
        seen: dict[tuple[str, float], float] = {}
        done = threading.Event()

        written = stored_batches(client)

        def poll() -> None:
            while not done.is_set():
                if not written.get_message(timeout=0.1):
                    continue
                while written.get_message(timeout=0):  # batches stored meanwhile: one read sees them all
                    pass
                docs = read(client)
                now = time.perf_counter()
                for d in docs:
                    seen.setdefault((d["symbol"], d["event_ts"]), now)

        reader = threading.Thread(target=poll, daemon=True)
        reader.start()
        n = RATE * DURATION
        sent, send_s = publish(prod, names.TOPIC_STREAMING)
        time.sleep(2)
        done.set()
        reader.join()
        prod.close()
        phases = batch_phases(client)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        floor = broker_floor(bootstrap, env)
    lat = sorted((seen[k] - t) * 1000 for k, t in sent.items() if k in seen and seen[k] >= t)
    p50, p99 = lat[len(lat) // 2], lat[int(len(lat) * 0.99)]
    floor_p50, floor_p99 = floor[len(floor) // 2], floor[int(len(floor) * 0.99)]
    print(f"machine: {platform.machine()} python {platform.python_version()}; processor in its own process")
    print(
        f"{n} ticks at {n / send_s:,.0f}/s, {len(SYMBOLS)} coins: {len(lat)} measured, {n - len(lat)} missed"
    )
    print(f"publish -> {what}: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    print(
        f"the broker's floor, the same ticks to a bare consumer ({len(floor)} of {n} read): "
        f"p50 {floor_p50:.1f} ms, p99 {floor_p99:.1f} ms"
    )
    print(
        f"over the floor: p50 +{p50 - floor_p50:.1f} ms (target <= 3), "
        f"p99 x{p99 / floor_p99:.2f} (target <= 1.15)"
    )
    print(
        f"the processor's batches (its /metrics): {phases['batches']:.0f}, mean "
        + ", ".join(f"{k} {v:.2f} ms" for k, v in phases.items() if k != "batches")
    )
    emit_json(
        {
            "bench": bench,
            "p50_ms": round(p50, 1),
            "p99_ms": round(p99, 1),
            "ticks": n,
            "measured": len(lat),
            "rate_per_s": round(n / send_s),
            "floor_p50_ms": round(floor_p50, 1),
            "floor_p99_ms": round(floor_p99, 1),
            "overhead_p50_ms": round(p50 - floor_p50, 1),
            "p99_ratio": round(p99 / floor_p99, 3),
            "batch_mean_ms": {k: round(v, 2) for k, v in phases.items() if k != "batches"},
        }
    )


if __name__ == "__main__":
    main()
