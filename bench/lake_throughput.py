"""Records per second from crypto-raw-data into the Parquet lake: the real job, local[2], 200,000 quotes.

Starts a broker and Redis through the harness, publishes 200,000 real quotes (the whole shared
history, plus 3,354 of its rows moved 17 s later so that no (symbol, time) repeats), runs the
job with `--once` into a temporary folder (one micro-batch, on a JVM just started: `records_per_s`,
the bench's headline figure), then the job's own stream and writer in this process on a
JVM that has run a batch, over 200,000 new quotes into an empty lake (`warm_records_per_s`, with
its parts: the query's start to its batch, the scan out of Spark, the writer), then times the
parts alone to say where the time goes, and the file system's own cost of as many folders and files.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import msgspec
import orjson
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
from pyspark.sql import DataFrame

from cryptoviz import bus, names
from cryptoviz.lake.job import BatchWriter, quotes_stream, session
from cryptoviz.lake.storage import filesystem
from cryptoviz.lake.writer import WRITE_THREADS, quotes_table, write_batch
from cryptoviz.schema import MAX_FUTURE_S, decode, encode
from cryptoviz.scraper.sources.replay import history_to_quotes, read_history
from cryptoviz.servers import free_port
from cryptoviz.settings import HISTORY_2017_2021, HISTORY_2024_2026, LakeSettings, load
from cryptoviz.telemetry import Telemetry
from cryptoviz.testing.benchlog import emit_json
from cryptoviz.testing.harness import RealServers

N = 200_000
ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    quotes = [q for b in history_to_quotes(read_history([HISTORY_2017_2021, HISTORY_2024_2026])) for q in b]
    # moved 17 s off the hour (not years back: the contract refuses quotes before 2009-01-03)
    shift = timedelta(seconds=17)
    quotes += [msgspec.structs.replace(q, source_ts=q.source_ts + shift) for q in quotes[: N - len(quotes)]]
    values = [(q.symbol, encode(q)) for q in quotes]
    with RealServers() as real, tempfile.TemporaryDirectory() as tmp:
        bus.ensure_topics(real.bootstrap, partitions=4)
        publish(real.bootstrap, names.TOPIC_RAW, values)
        env = (
            os.environ
            | real.env()
            | {
                "LAKE_URL": f"{tmp}/lake",
                "LAKE_MAX_OFFSETS_PER_TRIGGER": str(N),
                "SPARK_UI_PORT": str(free_port()),
                "PYSPARK_PYTHON": sys.executable,
                "SPARK_LOCAL_IP": "127.0.0.1",
            }
        )
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, str(ROOT / "spark-streaming" / "main.py"), "--once"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wall = time.perf_counter() - t0
        status = next(
            orjson.loads(real.redis_client().get(k) or b"{}")
            for k in real.redis_client().smembers(names.STATUS_INDEX)
            if b"spark-streaming" in k
        )
        rows = ds.dataset(
            f"{tmp}/lake/{names.LAKE_QUOTES}", format="parquet", partitioning="hive"
        ).count_rows()
        query_s = status["gauges"]["query_seconds"]
        batch_s = status["gauges"]["batch_seconds_total"]

        warm_rows, warm_s, parts = warm_batch(real.bootstrap, f"{tmp}/lake-warm", quotes)
        files = [p for p in Path(f"{tmp}/lake-warm").rglob("*.parquet")]
        floor_s = file_system_floor(Path(f"{tmp}/floor"), len(files), sum(p.stat().st_size for p in files))

        # where the time goes: each part alone, in this process
        from cryptoviz.lake.kafka_source import KafkaRange, KafkaStreamReader

        reader = KafkaStreamReader({"bootstrap": real.bootstrap, "topic": names.TOPIC_RAW})
        ends = reader._ends()
        t = time.perf_counter()
        read_rows = sum(
            b.num_rows for p, end in ends.items() for b in reader.read(KafkaRange([(int(p), 0, end)]))
        )
        read_s = time.perf_counter() - t
        t = time.perf_counter()
        for _, value in values:
            decode(value)
        validate_s = time.perf_counter() - t
        table = quotes_table(quotes)
        t = time.perf_counter()
        write_batch(*filesystem(f"{tmp}/lake2"), table, names.LAKE_QUOTES, 0)
        write_s = time.perf_counter() - t
    rate = rows / query_s
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}, local[2]"
    )
    print(f"{rows} rows in the lake (of {len(quotes)} published); query {query_s:.1f}s, wall {wall:.1f}s")
    print(
        f"records/s (query start to end): {rate:,.0f} (target 20,000); with JVM start-up: {rows / wall:,.0f}"
    )
    print(
        f"  of which inside foreachBatch (Spark plan run + Arrow out + Parquet write): {batch_s:.1f}s "
        f"in {status['counters'].get('batches')} batch(es)"
    )
    print(
        f"records/s, the job's stream and writer on a JVM that has run a batch, {warm_rows} new quotes "
        f"into an empty lake: {warm_rows / warm_s:,.0f} ({warm_s:.1f}s from the query's start to its end)"
    )
    print(
        f"  of which: query start to its batch {parts['to_batch_s']:.1f}s, the scan out of Spark to Arrow "
        f"{parts['scan_s']:.1f}s, the writer {parts['write_s']:.1f}s, the end {parts['after_batch_s']:.1f}s"
    )
    print(
        f"  the file system alone (plain Python, {WRITE_THREADS} threads): {len(files)} folders with a file "
        f"each as the writer made them, {floor_s:.1f}s"
    )
    print("where the time goes, each part alone in one Python process:")
    print(f"  Kafka read into lake rows ({read_rows} rows): {read_s:.1f}s = {read_rows / read_s:,.0f}/s")
    print(f"  JSON decode + contract validation: {validate_s:.1f}s = {len(values) / validate_s:,.0f}/s")
    print(f"  Parquet write by pyarrow, partitioned: {write_s:.1f}s = {len(quotes) / write_s:,.0f}/s")
    emit_json(
        {
            "bench": "lake_throughput",
            "records_per_s": round(rate),
            "warm_records_per_s": round(warm_rows / warm_s),
            "warm_query_s": round(warm_s, 2),
            "warm_to_batch_s": round(parts["to_batch_s"], 2),
            "warm_scan_s": round(parts["scan_s"], 2),
            "warm_write_s": round(parts["write_s"], 2),
            "warm_files": len(files),
            "file_system_floor_s": round(floor_s, 2),
            "rows": rows,
            "query_s": query_s,
            "batch_s": batch_s,
            "wall_s": round(wall, 1),
            "kafka_read_per_s": round(read_rows / read_s),
            "validate_per_s": round(len(values) / validate_s),
            "write_per_s": round(len(quotes) / write_s),
            "target_records_per_s": 20000,
        }
    )


def publish(bootstrap: str, topic: str, values: list[tuple[str, bytes]]) -> None:
    prod = bus.producer(bootstrap, linger_ms=20)
    for key, value in values:
        prod.send(topic, key=key, value=value)
    prod.flush()
    prod.close()


class TimedWriter(BatchWriter):
    """The job's BatchWriter, with when its batch started and how long its scan and writer took."""

    def __init__(self, fs: pafs.FileSystem, base: str, telemetry: Telemetry) -> None:
        super().__init__(fs, base, telemetry)
        self.times = {"batch_at": 0.0, "end_at": 0.0, "scan_s": 0.0, "write_s": 0.0}

    def split(self, df: DataFrame) -> tuple[pa.Table, pa.Table]:
        t = time.perf_counter()
        try:
            return super().split(df)
        finally:
            self.times["scan_s"] += time.perf_counter() - t

    def __call__(self, df: DataFrame, batch_id: int) -> None:
        t0 = time.perf_counter()
        self.times["batch_at"] = self.times["batch_at"] or t0
        scanned = self.times["scan_s"]
        super().__call__(df, batch_id)
        end = time.perf_counter()
        self.times["write_s"] += end - t0 - (self.times["scan_s"] - scanned)
        self.times["end_at"] = end


def warm_batch(bootstrap: str, lake: str, quotes: list) -> tuple[int, float, dict[str, float]]:
    """cryptoviz.lake.job's stream and writer in this process, as the service runs them: one
    availableNow query over the topic the cold run read (into a lake of its own) to start the JVM,
    then one over the same quotes 34 s later, from a topic of their own into an empty lake (as the
    cold run's), timed from its start to its end. Returns (rows written, seconds, the parts)."""
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"  # (PYSPARK_PYTHON: job.session's default, this one)
    spark = session("local[2]", free_port(), load(LakeSettings).spark_driver_memory, app="bench-warm")
    telemetry = Telemetry("bench-lake", None)

    def run(topic: str, lake_url: str) -> tuple[float, dict[str, float]]:
        writer = TimedWriter(*filesystem(lake_url), telemetry)
        stream = quotes_stream(spark, bootstrap, topic, len(quotes), MAX_FUTURE_S)
        t = time.perf_counter()
        query = (
            stream.writeStream.foreachBatch(writer)
            .option("checkpointLocation", f"{lake_url}/_checkpoint-{topic}")
            .trigger(availableNow=True)
            .start()
        )
        query.awaitTermination()
        end = time.perf_counter()
        times = writer.times
        parts = {
            "to_batch_s": times["batch_at"] - t,
            "scan_s": times["scan_s"],
            "write_s": times["write_s"],
            "after_batch_s": end - times["end_at"],
        }
        return end - t, parts

    try:
        run(names.TOPIC_RAW, f"{lake}-up")
        topic = "bench-warm"
        bus.ensure_topics(bootstrap, (topic,), partitions=4)
        later = [msgspec.structs.replace(q, source_ts=q.source_ts + timedelta(seconds=34)) for q in quotes]
        publish(bootstrap, topic, [(q.symbol, encode(q)) for q in later])
        before = telemetry.counters["rows_written"]
        seconds, parts = run(topic, lake)
        return telemetry.counters["rows_written"] - before, seconds, parts
    finally:
        spark.stop()


def file_system_floor(root: Path, files: int, size: int) -> float:
    """Seconds to make `files` (symbol, day) folders with one file of the average size in each, by
    plain Python in as many threads as the writer (a hidden name, then renamed, as it does)."""
    body = b"x" * (size // max(files, 1))

    def share(first: int) -> None:
        for i in range(first, files, WRITE_THREADS):
            folder = root / f"symbol=S{i % 7}" / f"date={i}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / ".part.tmp").write_bytes(body)
            (folder / ".part.tmp").rename(folder / "part.parquet")

    t = time.perf_counter()
    with ThreadPoolExecutor(WRITE_THREADS) as pool:
        list(pool.map(share, range(WRITE_THREADS)))
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
