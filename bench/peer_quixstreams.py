"""The same job in CryptoViz and in Quix Streams, on the same broker and Redis in the same run.

The job: 1,000 symbols, each symbol's mean price over a sliding 1 h event-time window, the latest
mean per symbol written to Redis, offsets committed. Both read the same 300,000 quotes (the
platform's JSON) from a 4-partition topic; each has a consumer group of its own; each is timed from
its first message to the end (its last write to Redis and commit), so the group join, which takes
seconds on this broker, is not counted.

- CryptoViz: kafka-python (`cryptoviz.bus`), each quote decoded and checked by the contract
  (`cryptoviz.schema.decode`), `models.window.TimeWindow`, one Redis pipeline and one commit per
  batch, as the ML processor does.
- Quix Streams (PyPI `quixstreams`, pinned below) in a venv of its own under .cryptoviz/bench/ (it
  brings confluent-kafka and RocksDB): `sliding_window(1 h).agg(Mean).current()` into its
  `RedisSink`, state local (no changelog topics), the event time parsed from the value.

Prints both rates and `ratio` = CryptoViz / Quix; ends with one JSON line.
"""

from __future__ import annotations

import json
import platform
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from kafka import KafkaAdminClient, TopicPartition
from kafka.admin import NewTopic
from kafka.structs import OffsetAndMetadata

from cryptoviz import bus
from cryptoviz.models.window import TimeWindow
from cryptoviz.schema import decode, encode, make_quote
from cryptoviz.testing.benchlog import emit_json
from cryptoviz.testing.harness import RealServers

ROOT = Path(__file__).resolve().parent.parent
QUIX_VERSION = "3.28.1"
QUIX_VENV = ROOT / ".cryptoviz" / "bench" / f"quixstreams-{QUIX_VERSION}"
SYMBOLS = [f"S{i:04d}" for i in range(1000)]
TICKS = 300
PARTITIONS = 4
WINDOW_S = 3600.0


def quix_python() -> Path:
    """The venv with Quix Streams, made once (pip, from PyPI)."""
    python = QUIX_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(QUIX_VENV)], check=True)
        pip = [str(python), "-m", "pip", "install", "-q"]
        subprocess.run([*pip, f"quixstreams=={QUIX_VERSION}", "redis>=5"], check=True)
    return python


def publish(bootstrap: str, topic: str) -> int:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    # Quix's state needs the topic's retention in its configs, which this broker only has when given
    configs = {"retention.ms": str(7 * 24 * 3600 * 1000), "retention.bytes": "-1"}
    admin.create_topics([NewTopic(topic, PARTITIONS, 1, topic_configs=configs)])
    admin.close()
    rng = random.Random(5)
    prices = {s: rng.uniform(1, 1000) for s in SYMBOLS}
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    prod = bus.producer(bootstrap, linger_ms=20)
    for i in range(TICKS):
        ts = t0 + timedelta(hours=i)
        for s in SYMBOLS:
            prices[s] *= 1 + rng.gauss(0, 0.01)
            prod.send(topic, key=s, value=encode(make_quote(s, prices[s], ts, ingest_ts=ts)))
    prod.flush()
    prod.close()
    return TICKS * len(SYMBOLS)


def cryptoviz_job(bootstrap: str, topic: str, client, expected: int) -> tuple[float, int]:
    """(seconds from the first message to the last batch stored and committed, messages)."""
    consumer = bus.consumer(bootstrap, topic, group_id="peer-cryptoviz")
    allowed = set(SYMBOLS)
    windows: dict[str, TimeWindow] = {}
    seen, first = 0, None
    while seen < expected:
        batch = consumer.poll(timeout_ms=500, max_records=5000)
        if not batch:
            continue
        if first is None:
            first = time.perf_counter()
        latest: dict[str, tuple[float, float]] = {}
        offsets = {}
        for tp, records in batch.items():
            for rec in records:
                q = decode(rec.value, allowed)
                win = windows.get(q.symbol)
                if win is None:
                    win = windows[q.symbol] = TimeWindow(WINDOW_S)
                win.add(q.event_time, q.price_usd)
                latest[q.symbol] = (win.mean, q.event_time)
            seen += len(records)
            next_offset = OffsetAndMetadata(records[-1].offset + 1, "", -1)
            offsets[TopicPartition(tp.topic, tp.partition)] = next_offset
        pipe = client.pipeline(transaction=False)
        for sym, (mean, ts) in latest.items():
            pipe.set(f"peer:cryptoviz:{sym}", orjson.dumps({"mean": mean, "end": ts}))
        pipe.execute()
        consumer.commit(offsets)
    assert first is not None
    elapsed = time.perf_counter() - first
    consumer.close()
    return elapsed, seen


def quix_job(real: RealServers, topic: str, expected: int, state_dir: str) -> tuple[float, float, int]:
    """(seconds from its first message to the end of its run, incl. the last flush to Redis and the
    commit; seconds to the last message processed, before that flush; messages)."""
    r = real.redis()
    cmd = [
        str(quix_python()),
        str(ROOT / "bench" / "peer" / "quix_job.py"),
        real.bootstrap,
        topic,
        "peer-quix",
        state_dir,
        str(r.port),
        "",  # the harness's Redis has no password
        str(expected),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    return out["ended"] - out["first"], out["last"] - out["first"], out["processed"]


def same_means(client) -> bool:
    """Both wrote the same latest mean for every symbol (to 1e-9 relative)."""
    ours = client.mget([f"peer:cryptoviz:{s}" for s in SYMBOLS])
    theirs = client.mget([f"peer:quix:{s}" for s in SYMBOLS])
    for a, b in zip(ours, theirs, strict=True):
        if a is None or b is None:
            return False
        x, y = orjson.loads(a)["mean"], orjson.loads(b)["mean"]
        if abs(x - y) > 1e-9 * abs(y):
            return False
    return True


def main() -> None:
    python = quix_python()  # before the servers: a first install takes a minute
    with RealServers() as real, tempfile.TemporaryDirectory() as tmp:
        topic = "peer-quotes"
        n = publish(real.bootstrap, topic)
        client = real.redis_client()
        ours_s, ours_n = cryptoviz_job(real.bootstrap, topic, client, n)
        quix_s, quix_processing_s, quix_n = quix_job(real, topic, n, tmp)
        agree = same_means(client)
    ours, quix = ours_n / ours_s, quix_n / quix_s
    print(f"machine: {platform.machine()} python {platform.python_version()}; venv {python.parent.parent}")
    print(f"{n} quotes, {len(SYMBOLS)} symbols, {PARTITIONS} partitions, sliding 1 h mean -> Redis")
    print(f"CryptoViz (kafka-python, contract check, TimeWindow): {ours:,.0f} msg/s ({ours_s:.1f} s)")
    print(f"Quix Streams {QUIX_VERSION} (confluent-kafka, RocksDB state): {quix:,.0f} msg/s ({quix_s:.1f} s)")
    print(f"  Quix to its last message processed, before its last flush and close: {quix_processing_s:.1f} s")
    print(f"ratio {ours / quix:.2f} (target 1.0); the same latest mean per symbol in both: {agree}")
    emit_json(
        {
            "bench": "peer_quixstreams",
            "ratio": round(ours / quix, 3),
            "cryptoviz_per_s": round(ours),
            "quix_per_s": round(quix),
            "quix_processing_per_s": round(quix_n / quix_processing_s),
            "messages": n,
            "same_means": agree,
            "target_ratio": 1.0,
        }
    )


if __name__ == "__main__":
    main()
