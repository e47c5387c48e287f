"""Latency from a quote published to its prediction readable in Redis, at 1,000 ticks/s.

The real broker and Redis, the real ml-processor service as its own process (COINS: the 14 known
coins), a producer sending 1,000 quotes/s for DURATION seconds (hourly event-time steps, as a
replay), and a reader polling the symbols' ML summaries: a tick's latency is from its send to the
first read that shows its event time. A tick overtaken by the next one of its symbol before any
read saw it is not counted (reported as `missed`).
"""

from __future__ import annotations

import json
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
from prometheus_client.parser import text_string_to_metric_families

from cryptoviz import bus, names
from cryptoviz.coins import COINS
from cryptoviz.schema import encode, make_quote
from cryptoviz.testing.harness import RealServers

RATE = 1000
DURATION = 15
ROOT = Path(__file__).resolve().parent.parent
SYMBOLS = list(COINS)


def summaries(client) -> list[dict]:
    """The ML summaries as Redis holds them."""
    return [orjson.loads(d) for d in client.mget([names.ml_summary_key(s) for s in SYMBOLS]) if d]


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


def main(read=summaries, bench: str = "ml_latency", what: str = "prediction readable in Redis") -> None:
    with RealServers() as real:
        bootstrap = real.bootstrap
        bus.ensure_topics(bootstrap, partitions=4)
        client = real.redis_client()
        env = os.environ | real.env() | {"COINS": ",".join(SYMBOLS), "ML_MAX_POLL_RECORDS": "500"}
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "ml-processor" / "main.py")], env=env, stderr=subprocess.DEVNULL
        )
        prod = bus.producer(bootstrap, linger_ms=0)
        t0 = datetime(2024, 1, 1, tzinfo=UTC)
        warm = [make_quote(s, 100.0, t0, ingest_ts=t0) for s in SYMBOLS]
        for q in warm:  # wait until the processor is in the group and answering
            prod.send(names.TOPIC_STREAMING, key=q.symbol, value=encode(q))
        prod.flush()
        while len(read(client)) < len(SYMBOLS):
            time.sleep(0.05)
        sent: dict[tuple[str, float], float] = {}
        seen: dict[tuple[str, float], float] = {}
        done = threading.Event()

        def poll() -> None:
            while not done.is_set():
                docs = read(client)
                now = time.perf_counter()
                for d in docs:
                    seen.setdefault((d["symbol"], d["event_ts"]), now)

        reader = threading.Thread(target=poll, daemon=True)
        reader.start()
        n = RATE * DURATION
        start = time.perf_counter()
        for i in range(n):
            sym = SYMBOLS[i % len(SYMBOLS)]
            ts = t0 + timedelta(hours=1 + i // len(SYMBOLS))
            q = make_quote(sym, 100.0 + (i % 50), ts, ingest_ts=ts)
            due = start + i / RATE
            while (left := due - time.perf_counter()) > 0:
                time.sleep(min(left, 0.0005))
            sent[(sym, ts.timestamp())] = time.perf_counter()
            prod.send(names.TOPIC_STREAMING, key=sym, value=encode(q))
        prod.flush()
        send_s = time.perf_counter() - start
        time.sleep(2)
        done.set()
        reader.join()
        prod.close()
        phases = batch_phases(client)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    lat = sorted((seen[k] - t) * 1000 for k, t in sent.items() if k in seen and seen[k] >= t)
    p50, p99 = lat[len(lat) // 2], lat[int(len(lat) * 0.99)]
    print(f"machine: {platform.machine()} python {platform.python_version()}; processor in its own process")
    print(
        f"{n} ticks at {n / send_s:,.0f}/s, {len(SYMBOLS)} coins: {len(lat)} measured, {n - len(lat)} missed"
    )
    print(f"publish -> {what}: p50 {p50:.1f} ms, p99 {p99:.1f} ms (target p99 <= 30 ms)")
    print(
        f"the processor's batches (its /metrics): {phases['batches']:.0f}, mean "
        + ", ".join(f"{k} {v:.2f} ms" for k, v in phases.items() if k != "batches")
    )
    print(
        json.dumps(
            {
                "bench": bench,
                "p50_ms": round(p50, 1),
                "p99_ms": round(p99, 1),
                "ticks": n,
                "measured": len(lat),
                "rate_per_s": round(n / send_s),
                "target_p99_ms": 30,
                "batch_mean_ms": {k: round(v, 2) for k, v in phases.items() if k != "batches"},
            }
        )
    )


if __name__ == "__main__":
    main()
