"""The Spark lake job against the real broker: N quotes -> N rows, quarantine, dedup, SIGKILL + restart.
(A lost checkpoint and a republishing scraper: tests/e2e/test_chaos.py.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.dataset as ds
import pytest
from pyspark.sql import DataFrame
from pyspark.sql.streaming import StreamingQuery

from cryptoviz import bus, names
from cryptoviz.lake.reader import LakeReader
from cryptoviz.retry import Backoff
from cryptoviz.schema import Quote, encode, make_quote
from cryptoviz.scraper.sources.replay import history_to_quotes, read_history
from cryptoviz.servers import free_port
from cryptoviz.service import Stop
from cryptoviz.settings import HISTORY_2024_2026
from cryptoviz.telemetry import Telemetry
from cryptoviz.testing.harness import wait_for
from cryptoviz.testing.malformed import malformed

pytestmark = pytest.mark.spark
ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2025, 3, 1, tzinfo=UTC)


def run_job(env: dict, once: bool = True) -> subprocess.Popen:
    cmd = [sys.executable, str(ROOT / "spark-streaming" / "main.py")] + (["--once"] if once else [])
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def lake_rows(lake: Path) -> list[tuple[str, object]]:
    table = ds.dataset(lake / names.LAKE_QUOTES, format="parquet", partitioning="hive").to_table()
    return list(zip(table.column("symbol").to_pylist(), table.column("source_ts").to_pylist(), strict=True))


def publish_quotes_duplicates_and_malformed(
    bootstrap: str, quotes: list[Quote]
) -> list[tuple[bytes, bytes, str]]:
    """Every quote, the first 50 again, then every kind of bad message; returns the bad ones."""
    prod = bus.producer(bootstrap)
    for q in quotes:
        prod.send(names.TOPIC_RAW, key=q.symbol, value=encode(q))
    for q in quotes[:50]:  # a retried send: exact duplicates
        prod.send(names.TOPIC_RAW, key=q.symbol, value=encode(q))
    bad = malformed()  # every kind of bad message: each must land once in the quarantine
    for key, value, _ in bad:
        prod.send(names.TOPIC_RAW, key=key, value=value)
    prod.flush()
    prod.close()
    return bad


def run_and_kill_once_eight_files_are_written(env: dict, lake: Path) -> None:
    """A first run of the job, SIGKILLed once some batches are written (or once it ends by itself)."""
    first = run_job(env)

    def batches_written() -> bool:
        quotes = lake / names.LAKE_QUOTES
        return first.poll() is not None or (quotes.exists() and len(list(quotes.rglob("*.parquet"))) >= 8)

    wait_for(batches_written, 180, "eight lake files from the first run", every=0.2)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)


def test_lake_exactly_once_with_quarantine_dedup_and_a_killed_job(real, tmp_path):
    """One broker, one topic, in order: a killed first run, a clean rerun, then checks."""
    bootstrap = real.bootstrap
    bus.ensure_topics(bootstrap, partitions=4)
    rows = read_history([HISTORY_2024_2026], ["BTC", "ETH", "SOL", "XRP"])[:20000]
    quotes = [q for batch in history_to_quotes(rows) for q in batch]
    bad = publish_quotes_duplicates_and_malformed(bootstrap, quotes)

    lake = tmp_path / "lake"
    env = (
        os.environ
        | real.env()
        | {
            "LAKE_URL": str(lake),
            "LAKE_MAX_OFFSETS_PER_TRIGGER": "4000",
            "SPARK_UI_PORT": str(free_port()),
            "PYSPARK_PYTHON": sys.executable,
            "SPARK_LOCAL_IP": "127.0.0.1",
            "HEARTBEAT_INTERVAL_S": "1",
        }
    )
    # first run: SIGKILL once some batches are written
    run_and_kill_once_eight_files_are_written(env, lake)
    # second run: availableNow to the end
    second = run_job(env)
    _, err = second.communicate(timeout=400)
    assert second.returncode == 0, err[-3000:]
    assert "offsets_skipped" not in err, "no offset is missed on a log nothing deleted from"
    assert "[Stage " not in err, "the job's output is a log: no stage progress bar in it"
    batches = {f.name.split("-")[1] for f in (lake / names.LAKE_QUOTES).rglob("batch-*.parquet")}
    assert len(batches) >= len(quotes) // 4000, "--once reads its backlog 4,000 offsets a batch"

    expected = {(q.symbol, q.source_ts) for q in quotes}
    got = [row for row in lake_rows(lake) if row in expected]  # the topic is shared with other tests
    assert len(got) == len(quotes) == len(expected), "every quote once: no loss, no duplicate"
    assert set(got) == expected
    table = ds.dataset(lake / names.LAKE_QUOTES, format="parquet", partitioning="hive").to_table()
    assert table.schema.field("price_usd").type == "double"
    assert str(table.schema.field("source_ts").type).startswith("timestamp")
    one = next((lake / names.LAKE_QUOTES).glob("symbol=BTC/date=*/*.parquet"))
    assert one.name.startswith("batch-")
    quarantine = ds.dataset(lake / names.LAKE_QUARANTINE, format="parquet", partitioning="hive").to_table()
    assert Counter(quarantine.column("reason").to_pylist()) == Counter(reason for _, _, reason in bad)

    reader = LakeReader(str(lake))
    start, end = quotes[100].source_ts, quotes[400].source_ts
    frame = reader.history(["BTC"], start, end)
    assert len(frame) == len({q.source_ts for q in quotes[100:400] if q.symbol == "BTC"})
    assert frame["source_ts"].is_monotonic_increasing


def test_lake_job_writes_to_s3(real, tmp_path):
    """The same job against the real S3 server: quotes land once, readable through the lake reader."""
    bootstrap = real.bootstrap
    bus.ensure_topics(bootstrap, partitions=4)
    rows = read_history([HISTORY_2024_2026], ["SOL", "XRP"])
    rows = [r for r in rows if r.ts.year == 2025 and r.ts.month == 7]
    quotes = [q for batch in history_to_quotes(rows) for q in batch]
    prod = bus.producer(bootstrap)
    for q in quotes:
        prod.send(names.TOPIC_RAW, key=q.symbol, value=encode(q))
    prod.flush()
    prod.close()
    env = (
        os.environ
        | real.env()
        | real.s3_env()
        | {
            "LAKE_URL": "s3://lake/job-test",
            "LAKE_CHECKPOINT_DIR": str(tmp_path / "checkpoint"),
            "SPARK_UI_PORT": str(free_port()),
            "PYSPARK_PYTHON": sys.executable,
            "SPARK_LOCAL_IP": "127.0.0.1",
        }
    )
    job = run_job(env)
    _, err = job.communicate(timeout=400)
    assert job.returncode == 0, err[-3000:]
    from cryptoviz.lake.storage import filesystem
    from cryptoviz.settings import S3Settings

    fs, base = filesystem(
        "s3://lake/job-test", S3Settings(**{k.lower(): v for k, v in real.s3_env().items()})
    )
    frame = LakeReader(base, fs).history(["SOL", "XRP"], rows[0].ts, rows[-1].ts + timedelta(hours=1))
    got = list(zip(frame["symbol"], frame["source_ts"], strict=True))
    expected = {(q.symbol, q.source_ts) for q in quotes}
    assert len(got) == len(expected) and {(s, ts.to_pydatetime()) for s, ts in got} == expected


def test_a_failed_query_is_counted_and_started_again_from_its_checkpoint(real, topic_factory, tmp_path):
    """The job's own stream on a session in this process, its sink failing the first batch: the
    query ends with the failure, which is counted, and is started again after a backoff; the batch
    it failed on comes again."""
    from cryptoviz.lake import job
    from cryptoviz.lake.app import run_query

    topic = topic_factory("lake-fail")
    quotes = [make_quote("BTC", 100.0 + h, T0 + timedelta(hours=h)) for h in range(5)]
    prod = bus.producer(real.bootstrap)
    for q in quotes:
        prod.send(topic, key=q.symbol, value=encode(q))
    prod.flush()
    prod.close()
    stop = Stop()
    batches: list[int | str] = []

    def sink(df: DataFrame, batch_id: int) -> None:
        if not batches:
            batches.append("failed")
            raise RuntimeError("the sink failed")
        batches.append(df.count())
        stop.set()

    def start() -> StreamingQuery:
        stream = job.quotes_stream(spark, real.bootstrap, topic, 1000).writeStream.foreachBatch(sink)
        out = stream.option("checkpointLocation", str(tmp_path / "checkpoint"))
        return out.trigger(processingTime="1 second").start()

    spark = job.session("local[1]", free_port(), "512m", app="cryptoviz-query-restart-test")
    telemetry = Telemetry("lake-test", None, interval_s=1.0)
    try:
        code = run_query(start, stop, telemetry, real.bootstrap, Backoff(base_s=0.1, cap_s=0.1), once=False)
    finally:
        spark.stop()
    assert code == 0 and telemetry.counters["errors.query_failed"] == 1
    assert batches == ["failed", len(quotes)]
