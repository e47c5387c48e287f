"""Latency from a quote published to its prediction readable in Redis, at 1,000 ticks/s.

The real broker and Redis, the real ml-processor service as its own process (COINS: the 14 known
coins), the platform's producer (`bus.producer`, as the scraper and the replay publish) sending
1,000 quotes/s for DURATION seconds in all (hourly event-time steps, as a replay), and a reader of
the symbols' ML summaries in its own process that reads each time the processor has stored a batch
(bench/latency_reader.py): a tick's latency is from its send to the first read that shows its
event time. A tick overtaken by the next one of its symbol before any read saw it is not counted
(reported as `missed`).

And the broker's floor, on the same broker: the same ticks at the same rate to a topic of its own,
read by a bare consumer in its own process (bench/bare_consumer.py: the processor's fetch sizes, a
wait of FLOOR_FETCH_WAIT_MS) that notes when each one reaches it. Not at the same time as the
processor's ticks (on 2 cores a third busy reader slows the first), but in turn with them in
SEGMENTS segments (each side's DURATION split over its half of them), so that a slow spell of the
machine (or the broker's partitions growing, below) falls on both; the overhead of each pair of
segments is printed too.

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
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from kafka import KafkaProducer
from latency_reader import READS, SYMBOLS
from prometheus_client.parser import text_string_to_metric_families

from cryptoviz import bus, names
from cryptoviz.schema import encode, make_quote
from cryptoviz.testing.benchlog import emit_json
from cryptoviz.testing.harness import RealServers

RATE = 1000
DURATION = 15
ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2024, 1, 1, tzinfo=UTC)
# the bare consumer's fetch wait, the processor's while quotes come (ML_BUSY_FETCH_WAIT_MS): of 1, 5,
# 20 and 500 ms, the fastest on the local broker; it answers an idle fetch late at 500 and starves at 1
FLOOR_FETCH_WAIT_MS = 20
FLOOR_TOPIC = "bench-floor"
# the processor's segments and the floor's, in turn: a slow spell of the machine falls on both
SEGMENTS = 6
# of each segment, the first second is not counted: a consumer that sat idle through the other's
# segment is in its idle pause (the processor's ML_IDLE_WAIT_MS) when the ticks start again
SETTLE_S = 1.0
Sent = dict[tuple[str, float], float]  # (symbol, event time) -> when it was sent (perf_counter)


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


def publish(prod: KafkaProducer, topic: str, first: int, count: int) -> tuple[Sent, float]:
    """Quotes first..first+count at RATE a second, hourly event-time steps (the i-th quote of a run
    at hour 1 + i // coins): (symbol, event time) -> when each was sent, in order, and the seconds
    the sending took."""
    sent: Sent = {}
    start = time.perf_counter()
    for i in range(first, first + count):
        sym = SYMBOLS[i % len(SYMBOLS)]
        ts = T0 + timedelta(hours=1 + i // len(SYMBOLS))
        q = make_quote(sym, 100.0 + (i % 50), ts, ingest_ts=ts)
        due = start + (i - first) / RATE
        while (left := due - time.perf_counter()) > 0:
            time.sleep(min(left, 0.0005))
        sent[(sym, ts.timestamp())] = time.perf_counter()
        prod.send(topic, key=sym, value=encode(q))
    prod.flush()
    return sent, time.perf_counter() - start


def bare_consumer(bootstrap: str, env: dict[str, str]) -> subprocess.Popen:
    """The floor's reader of FLOOR_TOPIC, once it owns its partitions."""
    bus.ensure_topics(bootstrap, (FLOOR_TOPIC,), partitions=4)
    bare = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "bare_consumer.py"), bootstrap, FLOOR_TOPIC, "bench-floor"],
        env=env | {"KAFKA_FETCH_MAX_WAIT_MS": str(FLOOR_FETCH_WAIT_MS)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert bare.stdout is not None and bare.stdout.readline().strip() == "ready"
    return bare


def arrivals(reader: subprocess.Popen) -> dict[tuple[str, float], float]:
    """(symbol, event time) -> when a reader (the bare consumer, latency_reader) first had it; it
    stops at SIGTERM and prints what it had."""
    reader.send_signal(signal.SIGTERM)
    return {(sym, ts): at for sym, ts, at in reversed(orjson.loads(reader.communicate(timeout=30)[0]))}


def ms_after(sent: Sent, at: dict[tuple[str, float], float]) -> list[float]:
    """Sorted ms from each tick's send to `at`, of the ticks `at` has."""
    return sorted((at[k] - t) * 1000 for k, t in sent.items() if k in at and at[k] >= t)


def p50(values: list[float]) -> float:
    return values[len(values) // 2]


def p99(values: list[float]) -> float:
    return values[int(len(values) * 0.99)]


def main(
    read: str = "summaries", bench: str = "ml_latency", what: str = "prediction readable in Redis"
) -> None:
    """The run, its reader's `read` one of latency_reader.READS."""
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
        stored = READS[read](client)
        while len(stored()) < len(SYMBOLS):
            time.sleep(0.05)
        bare = bare_consumer(bootstrap, env)
        reader = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "latency_reader.py"), read],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert reader.stdout is not None and reader.stdout.readline().strip() == "ready"
        segments: list[tuple[str, Sent]] = []  # (topic, the ticks counted), in the order sent
        send_s = 0.0
        size = RATE * DURATION // (SEGMENTS // 2)
        for k in range(SEGMENTS):
            topic = names.TOPIC_STREAMING if k % 2 == 0 else FLOOR_TOPIC
            sent, took = publish(prod, topic, k * size, size)
            segments.append((topic, dict(list(sent.items())[int(SETTLE_S * RATE) :])))
            send_s += took
        time.sleep(2)
        seen = arrivals(reader)
        prod.close()
        phases = batch_phases(client)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        reached = arrivals(bare)
    ours = [ms_after(sent, seen) for topic, sent in segments if topic == names.TOPIC_STREAMING]
    floors = [ms_after(sent, reached) for topic, sent in segments if topic == FLOOR_TOPIC]
    lat, floor = sorted(x for seg in ours for x in seg), sorted(x for seg in floors for x in seg)
    n = sum(len(sent) for topic, sent in segments if topic == names.TOPIC_STREAMING)
    pairs = [round(p50(a) - p50(b), 1) for a, b in zip(ours, floors, strict=True)]
    print(f"machine: {platform.machine()} python {platform.python_version()}; processor in its own process")
    print(
        f"{SEGMENTS} segments of {size:,} ticks at {SEGMENTS * size / send_s:,.0f}/s, "
        f"the processor's and the floor's in turn, the first {SETTLE_S:.0f} s of each not counted; "
        f"{len(SYMBOLS)} coins"
    )
    print(f"publish -> {what}: {n} ticks, {len(lat)} measured, {n - len(lat)} missed")
    print(f"  p50 {p50(lat):.1f} ms, p99 {p99(lat):.1f} ms")
    print(
        f"the broker's floor, the same ticks to a bare consumer ({len(floor)} read): "
        f"p50 {p50(floor):.1f} ms, p99 {p99(floor):.1f} ms"
    )
    print(
        f"over the floor: p50 +{p50(lat) - p50(floor):.1f} ms (target <= 3; each pair of segments: "
        f"{', '.join(f'{x:+.1f}' for x in pairs)}), p99 x{p99(lat) / p99(floor):.2f} (target <= 1.15)"
    )
    print(
        f"the processor's batches (its /metrics): {phases['batches']:.0f}, mean "
        + ", ".join(f"{k} {v:.2f} ms" for k, v in phases.items() if k != "batches")
    )
    emit_json(
        {
            "bench": bench,
            "p50_ms": round(p50(lat), 1),
            "p99_ms": round(p99(lat), 1),
            "ticks": n,
            "measured": len(lat),
            "rate_per_s": round(SEGMENTS * size / send_s),
            "floor_p50_ms": round(p50(floor), 1),
            "floor_p99_ms": round(p99(floor), 1),
            "overhead_p50_ms": round(p50(lat) - p50(floor), 1),
            "pair_overheads_p50_ms": pairs,
            "p99_ratio": round(p99(lat) / p99(floor), 3),
            "batch_mean_ms": {k: round(v, 2) for k, v in phases.items() if k != "batches"},
        }
    )


if __name__ == "__main__":
    main()
