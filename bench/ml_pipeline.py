"""Ticks per second from the real broker through the ML processor into Redis, offsets committed.

100,000 quotes (200 symbols x 500 hourly ticks, as a replay produces them) are published to
crypto-streaming first; then the processor's own loop (Processor.step: poll, decode, models,
one Redis transaction per batch, commit) runs in this process until the group has committed all.
"""

from __future__ import annotations

import os
import platform
import random
import time
from datetime import UTC, datetime, timedelta

from kafka import TopicPartition

from cryptoviz import bus, names
from cryptoviz.ml.group import subscribe
from cryptoviz.ml.processor import Processor
from cryptoviz.ml.store import RedisStore
from cryptoviz.models import kernel
from cryptoviz.models.engine import ModelConfig
from cryptoviz.schema import encode, make_quote
from cryptoviz.settings import KafkaSettings, MLSettings, load
from cryptoviz.telemetry import Telemetry
from cryptoviz.testing.benchlog import emit_json
from cryptoviz.testing.harness import RealServers

SYMBOLS = [f"S{i:03d}" for i in range(200)]
# BENCH_SNAPSHOT_INTERVAL_S=0: a snapshot of every symbol in every batch; unset: the service's default
SNAPSHOT_INTERVAL_S = (
    float(os.environ["BENCH_SNAPSHOT_INTERVAL_S"]) if "BENCH_SNAPSHOT_INTERVAL_S" in os.environ else None
)
TICKS = 500


def main() -> None:
    rng = random.Random(2)
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    prices = {s: rng.uniform(1, 1000) for s in SYMBOLS}
    with RealServers() as real:
        bootstrap = real.bootstrap
        bus.ensure_topics(bootstrap, partitions=4)
        prod = bus.producer(bootstrap, linger_ms=20)
        for i in range(TICKS):
            ts = t0 + timedelta(hours=i)
            for s in SYMBOLS:
                prices[s] *= 1 + rng.gauss(0, 0.01)
                prod.send(
                    names.TOPIC_STREAMING, key=s, value=encode(make_quote(s, prices[s], ts, ingest_ts=ts))
                )
        prod.flush()
        prod.close()
        total = len(SYMBOLS) * TICKS
        client = real.redis_client()
        telemetry = Telemetry("ml-processor", client, instance="bench")
        kafka = load(KafkaSettings)  # the service's consumer settings (fetch sizes and waits)
        consumer = bus.consumer(
            bootstrap,
            group_id="cryptoviz-ml-bench",
            fetch_max_wait_ms=kafka.kafka_fetch_max_wait_ms,
            max_partition_fetch_bytes=kafka.kafka_max_partition_fetch_bytes,
        )
        dlq = bus.DeadLetterProducer(bus.producer(bootstrap), origin="ml-processor")
        store = RedisStore(client, 300)
        ml = load(MLSettings)  # the service's settings: batches of up to 2,000, snapshots every 5 s
        proc = Processor(
            consumer,
            dlq,
            store,
            telemetry,
            ModelConfig(),
            symbols=set(SYMBOLS),
            max_records=ml.ml_max_poll_records,
            snapshot_interval_s=SNAPSHOT_INTERVAL_S
            if SNAPSHOT_INTERVAL_S is not None
            else ml.ml_snapshot_interval_s,
            view_interval_s=ml.ml_view_interval_ms / 1000,
        )
        subscribe(proc, consumer)
        while not consumer.assignment():
            proc.step(timeout_ms=100)  # join the group (nothing is consumed before the assignment)
        start = time.perf_counter()
        consumed = telemetry.counters["ticks_in"]
        while consumed < total:
            proc.step()
            consumed = telemetry.counters["ticks_in"]
        flush_start = time.perf_counter()
        proc.flush()  # the snapshots not written yet, and the commit they held back
        elapsed = time.perf_counter() - start
        flush_s = time.perf_counter() - flush_start
        tps = [TopicPartition(names.TOPIC_STREAMING, p) for p in range(4)]
        committed = sum(consumer.committed(tp) or 0 for tp in tps)
        consumer.close()
        dlq.close(10)
        views = client.zcard(names.ML_INDEX)
    rate = total / elapsed
    # where the time goes: the processor's own timings of its batches; the rest is its poll (the
    # fetch and kafka-python's parsing of the records) and the final flush
    parts = {k: telemetry.histograms[f"ml_{k}"].total for k in ("models", "store", "commit")}
    parts["poll_and_rest"] = elapsed - sum(parts.values())
    print(
        f"machine: {platform.machine()} python {platform.python_version()}, one processor process, "
        f"snapshots every {proc.snapshot_interval_s:g} s, core: {kernel.build}"
    )
    print(
        f"{total} ticks, {len(SYMBOLS)} symbols: {elapsed:.2f}s (the last flush {flush_s:.2f}s); "
        f"committed offsets {committed}; "
        f"symbols with predictions {views}"
    )
    print(f"ticks/s broker -> processor -> Redis -> commit: {rate:,.0f} (target 30,000)")
    print(
        f"  of the {elapsed:.2f}s: decoding and the models {parts['models']:.2f}s, the Redis writes "
        f"{parts['store']:.2f}s, the commits {parts['commit']:.2f}s, the polls (fetch and kafka-python's "
        f"record parsing) and the rest {parts['poll_and_rest']:.2f}s"
    )
    emit_json(
        {
            "bench": "ml_pipeline",
            "ticks_per_s": round(rate),
            "ticks": total,
            "committed": committed,
            "snapshot_interval_s": proc.snapshot_interval_s,
            "seconds": {k: round(v, 2) for k, v in parts.items()},
            "target_ticks_per_s": 30000,
        }
    )


if __name__ == "__main__":
    main()
