"""Publish and quote -> prediction latency on the stack `cryptoviz up` starts, at 10 quotes/s.

The stack as stack_idle.py starts it (every server and service, the durable broker: Tansu keeping
its log in the S3 server; the default settings and replay), plus three coins the replay does not
carry (EXTRA), so the bench's quotes meet no replayed ones. Once the replay's warm-up has gone
through, the scraper's own publisher (both topics and the latest-quotes hash, acks=all) writes
RATE quotes a second, one a write, event time the wall clock, for DURATION seconds, while a reader
polls the three coins' ML summaries in Redis every POLL_S. Reported:

- publish: one write, until the broker has acknowledged it on both topics;
- quote -> prediction: from the write's start to the first read that shows the quote's event
  time in its coin's summary (the ML processor's fetch, models and Redis write included).

    .venv/bin/python bench/stack_latency.py [SETTING=VALUE ...]   (the stack's settings, to try one)
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson

from cryptoviz import bus, names, servers
from cryptoviz.schema import make_quote
from cryptoviz.scraper.publisher import Publisher
from cryptoviz.telemetry import Telemetry
from cryptoviz.testing.benchlog import emit_json, pct
from cryptoviz.testing.harness import wait_for

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack_idle import DEFAULTS, SEVEN, warmed_up

from tests.e2e.conftest import LocalStack

RATE = 10
DURATION = 60
POLL_S = 0.002
EXTRA = ["ADA", "LTC", "DOT"]


def measure(stack: LocalStack) -> tuple[list[float], list[float], int]:
    """(publish ms, quote -> prediction ms, quotes sent)."""
    client = stack.redis()
    publisher = Publisher(
        bus.producer(stack.state().servers["broker"].address), stack.redis(), Telemetry("bench", None)
    )
    keys = [names.ml_summary_key(s) for s in EXTRA]
    seen: dict[tuple[str, float], float] = {}
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            docs = [orjson.loads(d) for d in client.mget(keys) if d]
            now = time.perf_counter()
            for d in docs:
                seen.setdefault((d["symbol"], d["event_ts"]), now)
            time.sleep(POLL_S)

    reader = threading.Thread(target=poll, daemon=True)
    reader.start()
    sent: dict[tuple[str, float], float] = {}
    publish: list[float] = []
    start = time.perf_counter()
    for i in range(RATE * DURATION):
        while (left := start + i / RATE - time.perf_counter()) > 0:
            time.sleep(left)
        quote = make_quote(EXTRA[i % len(EXTRA)], 100.0 + i % 17, datetime.now(UTC))
        t = time.perf_counter()
        publisher.write([quote])
        publish.append((time.perf_counter() - t) * 1000)
        sent[(quote.symbol, quote.source_ts.timestamp())] = t
    wait_for(lambda: all(k in seen for k in list(sent)[-len(EXTRA) :]), 30, "the last quotes' predictions")
    done.set()
    reader.join()
    publisher.close()
    latency = [(seen[k] - t) * 1000 for k, t in sent.items() if k in seen]
    return publish, latency, len(sent)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tried = dict(arg.split("=", 1) for arg in sys.argv[1:])
        stack = LocalStack(Path(tmp), **DEFAULTS | {"COINS": ",".join([SEVEN, *EXTRA])} | tried)
        up = stack.cli("up", "--wait", "180")
        assert up.returncode == 0, up.stderr[-2000:]
        try:
            wait_for(lambda: warmed_up(stack), 300, "the replay's warm-up modelled", every=1)
            publish, latency, n = measure(stack)
        finally:
            all_pids = stack.pids()
            stack.cli("down")
            assert not [p for p in all_pids if servers.pid_alive(p)]
    p50, p99 = statistics.median(latency), pct(latency, 0.99)
    pub50, pub99 = statistics.median(publish), pct(publish, 0.99)
    print(f"{n} quotes at {RATE}/s to the stack's durable broker, {len(latency)} predictions seen")
    print(f"publish (both topics, acks=all): p50 {pub50:.1f} ms, p99 {pub99:.1f} ms (target p50 < 20 ms)")
    print(f"quote -> prediction in Redis: p50 {p50:.1f} ms, p99 {p99:.1f} ms (targets 100 and 250 ms)")
    emit_json(
        {
            "bench": "stack_latency",
            "publish_p50_ms": round(pub50, 1),
            "publish_p99_ms": round(pub99, 1),
            "p50_ms": round(p50, 1),
            "p99_ms": round(p99, 1),
            "quotes": n,
            "measured": len(latency),
            "rate_per_s": RATE,
        }
        | ({"settings": tried} if tried else {})
    )


if __name__ == "__main__":
    main()
