"""The reader of bench/ml_latency.py and bench/e2e_latency.py, in a process of its own as the
dashboard is (in the bench's process it would share the interpreter's lock with the publisher and
the producer's thread). It reads each time the processor has stored a batch, told by a Redis
keyspace event of the batch's write of the cards' hash (after its summaries), as the floor's bare
consumer reads when the broker answers its fetch; a reader reading in a loop would take most of a
core from the processor and the broker on 2 cores. It notes when it first saw each symbol's event
time (`time.perf_counter`, the system's monotonic clock, so the bench's send times compare).

Usage: python bench/latency_reader.py summaries|dashboard (REDIS_HOST, REDIS_PORT from the
environment). `summaries`: the symbols' ML summaries (one MGET); `dashboard`: the dashboard's own
refresh read, LiveReader.snapshot(). Prints `ready` once subscribed; at SIGTERM prints one JSON
line, [[symbol, event time, first seen], ...], and exits.
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable

import orjson
import redis

from cryptoviz import names
from cryptoviz.clients import redis_client
from cryptoviz.coins import COINS
from cryptoviz.dashboard.readers import LiveReader

SYMBOLS = list(COINS)


Read = Callable[[], list[tuple[str, float]]]


def summaries(client: redis.Redis) -> Read:
    """Each ML summary's symbol and event time, as Redis holds them."""
    keys = [names.ml_summary_key(s) for s in SYMBOLS]

    def read() -> list[tuple[str, float]]:
        docs = [orjson.loads(raw) for raw in client.mget(keys) if raw]
        return [(d["symbol"], d["event_ts"]) for d in docs]

    return read


def dashboard(client: redis.Redis) -> Read:
    """Each card's symbol and event time, through the dashboard's refresh read."""
    reader = LiveReader(client)
    return lambda: [(c.symbol, c.event_ts) for c in reader.snapshot().ml.values()]


# a read of the client's, by name: made once, then called for each stored batch
READS: dict[str, Callable[[redis.Redis], Read]] = {"summaries": summaries, "dashboard": dashboard}


def stored_batches(client: redis.Redis) -> redis.client.PubSub:
    """A subscription that gets a message when a processor's batch is stored."""
    client.config_set("notify-keyspace-events", "Kh")
    written = client.pubsub(ignore_subscribe_messages=True)
    written.subscribe(f"__keyspace@0__:{names.ML_CARDS}")
    return written


def main() -> None:
    client = redis_client()
    read = READS[sys.argv[1]](client)
    written = stored_batches(client)
    stopped: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stopped.append(signum))
    seen: dict[tuple[str, float], float] = {}
    print("ready", flush=True)
    while not stopped:
        if not written.get_message(timeout=0.1):
            continue
        while written.get_message(timeout=0):  # batches stored meanwhile: one read sees them all
            pass
        docs = read()
        now = time.perf_counter()
        for key in docs:
            seen.setdefault(key, now)
    print(orjson.dumps([[s, ts, at] for (s, ts), at in seen.items()]).decode(), flush=True)


if __name__ == "__main__":
    main()
