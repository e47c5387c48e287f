"""The lake reader's time for 30 days of hourly history of one symbol, from a lake of two hourly files.

The lake is written in the layout the job and compaction leave: one file per (symbol, day). Each
query picks a random 30-day window of BTC; p50 and p99 over the runs.
"""

from __future__ import annotations

import platform
import random
import statistics
import tempfile
import time
from collections import defaultdict
from datetime import timedelta

from cryptoviz import names
from cryptoviz.lake.reader import LakeReader
from cryptoviz.lake.storage import filesystem
from cryptoviz.lake.writer import quotes_table, write_batch
from cryptoviz.scraper.sources.replay import history_to_quotes, read_history
from cryptoviz.settings import HISTORY_2017_2021, HISTORY_2024_2026
from cryptoviz.testing.benchlog import emit_json

RUNS = 100


def main() -> None:
    quotes = [q for b in history_to_quotes(read_history([HISTORY_2017_2021, HISTORY_2024_2026])) for q in b]
    by_day = defaultdict(list)
    for q in quotes:
        by_day[q.source_ts.date()].append(q)
    with tempfile.TemporaryDirectory() as tmp:
        fs, base = filesystem(f"{tmp}/lake")
        t = time.perf_counter()
        for batch_id, day in enumerate(sorted(by_day)):
            write_batch(fs, base, quotes_table(by_day[day]), names.LAKE_QUOTES, batch_id)
        build_s = time.perf_counter() - t
        reader = LakeReader(base, fs)
        btc = sorted(q.source_ts for q in quotes if q.symbol == "BTC")
        rng = random.Random(5)
        times, rows = [], []
        for _ in range(RUNS):
            start = btc[rng.randrange(len(btc) - 24 * 31)]
            t = time.perf_counter()
            frame = reader.history(["BTC"], start, start + timedelta(days=30))
            times.append((time.perf_counter() - t) * 1000)
            rows.append(len(frame))
    times.sort()
    p50, p99 = statistics.median(times), times[int(len(times) * 0.99) - 1]
    print(
        f"machine: {platform.machine()} python {platform.python_version()}; lake of {len(quotes)} rows, "
        f"{len(by_day)} days, one file per symbol and day, written in {build_s:.1f}s"
    )
    print(
        f"30 days of BTC ({min(rows)}-{max(rows)} rows): p50 {p50:.1f} ms, p99 {p99:.1f} ms "
        f"over {RUNS} queries (target p50 < 200 ms)"
    )
    emit_json(
        {
            "bench": "lake_query",
            "p50_ms": round(p50, 1),
            "p99_ms": round(p99, 1),
            "runs": RUNS,
            "rows_per_query": max(rows),
            "lake_rows": len(quotes),
            "target_p50_ms": 200,
        }
    )


if __name__ == "__main__":
    main()
