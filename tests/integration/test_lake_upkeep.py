"""The lake job compacts closed days itself, between its micro-batches, against the real broker and
Redis: a lake of many batch files per day (as a job with compaction off leaves it), the job run to
the end of the topic with a budget of one partition a call, a compaction killed midway (in step 3:
its rows staged, one of its files gone), then the job again: it finishes the cut-short partition
before its first batch, compacts every closed day, and every quote is in the lake exactly once."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pytest

from cryptoviz import bus, names
from cryptoviz.lake.compact import MANIFEST, STAGED, is_data_file
from cryptoviz.lake.reader import LakeReader
from cryptoviz.lake.writer import LakeBatch, LakeWriter, quotes_table
from cryptoviz.schema import Quote, encode, make_quote
from cryptoviz.servers import free_port

from .conftest import STARTED

pytestmark = pytest.mark.spark
ROOT = Path(__file__).resolve().parents[2]
# days older than any history other tests publish to the shared topic: compacted first (oldest first)
T0 = datetime(2010, 7, 1, tzinfo=UTC)
SYMBOLS = ("DOGE", "BNB")
DAYS = 6  # written as batch files before the job runs
BATCHES_A_DAY = 12  # so each of those partitions holds 12 files: the budget, one partition a call


def hourly(first_hour: int, hours: int) -> list[Quote]:
    return [
        make_quote(sym, 1.0 + h, T0 + timedelta(hours=h))
        for h in range(first_hour, first_hour + hours)
        for sym in SYMBOLS
    ]


def prefill(lake: Path) -> list[Quote]:
    writer = LakeWriter(pafs.LocalFileSystem(), str(lake), names.LAKE_QUOTES)
    qs = []
    for batch in range(DAYS * BATCHES_A_DAY):
        part = hourly(batch * 2, 2)
        writer.write(LakeBatch(quotes_table(part), 100_000 + batch))
        qs += part
    return qs


def publish(bootstrap: str, qs: list[Quote]) -> int:
    """Publish to crypto-raw-data; the offsets the topic holds now (others' messages too)."""
    prod = bus.producer(bootstrap)
    for q in qs:
        prod.send(names.TOPIC_RAW, key=q.symbol, value=encode(q))
    prod.flush()
    prod.close()
    return sum(bus.high_watermarks(bootstrap, names.TOPIC_RAW).values())


def run_job(env: dict) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "spark-streaming" / "main.py"), "--once"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    STARTED.append(proc)
    return proc


def counters(redis_client, proc: subprocess.Popen) -> dict:
    raw = redis_client.get(names.status_key("spark-streaming", f"{socket.gethostname()}-{proc.pid}"))
    assert raw, "the job's last heartbeat"
    return json.loads(raw)["counters"]


def files_by_partition(lake: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in (lake / names.LAKE_QUOTES).rglob("*"):
        if f.is_file() and any(f"symbol={s}/" in str(f) for s in SYMBOLS) and "/date=2010-" in str(f):
            out.setdefault(f"{f.parent.parent.name}/{f.parent.name}", []).append(f.name)
    return out


def keys(qs: list[Quote]) -> Counter:
    return Counter((q.symbol, q.source_ts) for q in qs)


def ours(lake: Path) -> Counter:
    table = ds.dataset(lake / names.LAKE_QUOTES, format="parquet", partitioning="hive").to_table()
    keys = zip(table.column("symbol").to_pylist(), table.column("source_ts").to_pylist(), strict=True)
    return Counter((s, ts) for s, ts in keys if s in SYMBOLS and ts.year == 2010)


def job_env(real, lake: Path, offsets: int) -> dict:
    """The job on this lake, reading the topic's `offsets` in about four batches, a budget of one
    partition (12 files) a call."""
    return (
        os.environ
        | real.env()
        | {
            "LAKE_URL": str(lake),
            "LAKE_MAX_OFFSETS_PER_TRIGGER": str(max(1, offsets // 4)),
            "LAKE_COMPACT_AFTER_S": "3600",
            "LAKE_COMPACT_MAX_FILES": str(BATCHES_A_DAY),
            "SPARK_UI_PORT": str(free_port()),
            "PYSPARK_PYTHON": sys.executable,
            "SPARK_LOCAL_IP": "127.0.0.1",
            "HEARTBEAT_INTERVAL_S": "1",
        }
    )


def kill_a_compaction_midway(lake: Path, env: dict) -> None:
    """compact.py's steps in a process that dies in step 3 of the first partition of two data files
    or more, one the job has not reached: its rows staged, one of its files deleted."""
    killed = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "e2e" / "compact_killed.py"), str(lake)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == 137, killed.stderr[-2000:]
    staged = [p for p, names_ in files_by_partition(lake).items() if STAGED in names_]
    assert len(staged) == 1, "killed with one partition's rows staged"


def test_the_job_compacts_closed_days_between_batches_and_survives_a_kill_midway(
    real, redis_client, tmp_path
):
    lake = tmp_path / "lake"
    expected = prefill(lake)
    bus.ensure_topics(real.bootstrap, partitions=4)
    # quotes of day 8 through the topic: they close the six days (LAKE_COMPACT_AFTER_S: one hour)
    late = hourly(7 * 24, 6)
    total = publish(real.bootstrap, late)
    expected += late
    env = job_env(real, lake, total)
    first = run_job(env)
    _, err = first.communicate(timeout=400)
    assert first.returncode == 0, err[-3000:]
    done = counters(redis_client, first)
    closed = [p for p in files_by_partition(lake) if p.split("date=")[1] < "2010-07-07"]
    assert len(closed) == len(SYMBOLS) * DAYS
    assert done["batches"] >= 2
    # one partition a call (at start, then after each batch), oldest first: a backlog takes batches
    assert 2 <= done["compactions"] <= done["batches"] + 1
    compacted = {
        p for p, names_ in files_by_partition(lake).items() if names_ == [f"compacted-{p[-10:]}.parquet"]
    }
    assert len(compacted) == min(done["compactions"], len(closed))
    assert keys(expected) == ours(lake), "every quote once after the first run"

    kill_a_compaction_midway(lake, env)

    # the job again, with the next day's quotes to read and room for every partition left
    more = hourly(8 * 24, 6)
    publish(real.bootstrap, more)
    expected += more
    second = run_job(env | {"LAKE_COMPACT_MAX_FILES": "10000", "SPARK_UI_PORT": str(free_port())})
    _, err = second.communicate(timeout=400)
    assert second.returncode == 0, err[-3000:]
    assert "resuming_compaction" in err, "the cut-short partition finished by the job"
    after = files_by_partition(lake)
    for part in closed:
        assert after[part] == [f"compacted-{part[-10:]}.parquet"], (part, after[part])
    assert not [p for p, names_ in after.items() if STAGED in names_ or MANIFEST in names_]
    assert keys(expected) == ours(lake), "every quote once: nothing lost, nothing twice"
    assert counters(redis_client, second)["compactions"] >= len(closed) - len(compacted)
    assert counters(redis_client, second).get("errors.compaction", 0) == 0
    frame = LakeReader(str(lake)).history(["DOGE"], T0, T0 + timedelta(days=10))
    assert len(frame) == len(expected) // len(SYMBOLS)
    assert all(is_data_file(n) for names_ in after.values() for n in names_)
