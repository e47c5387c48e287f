"""The spark-streaming service: the lake job with heartbeat, SIGTERM handling and `--once`."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from kafka.errors import KafkaError

from cryptoviz import bus, clients, logs, metrics, names
from cryptoviz.lake.master import choose_master
from cryptoviz.lake.progress import offsets_not_read
from cryptoviz.lake.storage import canonical_url, filesystem
from cryptoviz.retry import Backoff
from cryptoviz.service import Stop
from cryptoviz.settings import (
    ContractSettings,
    KafkaSettings,
    LakeSettings,
    RedisSettings,
    StackSettings,
    lake_url,
    load,
)
from cryptoviz.telemetry import Telemetry

if TYPE_CHECKING:
    import pyarrow.fs as pafs
    from pyspark.sql import SparkSession
    from pyspark.sql.streaming import StreamingQuery

    from cryptoviz.lake.job import BatchWriter

log = logs.get(names.LAKE)


def checkpoint_dir(settings: LakeSettings, url: str) -> str:
    if settings.lake_checkpoint_dir:
        return settings.lake_checkpoint_dir
    if url.startswith("s3://"):
        return str(load(StackSettings).cryptoviz_data_dir.resolve() / "checkpoints" / "lake")
    return str(Path(url).resolve() / "_checkpoint")


def main(stop: Stop, once: bool = "--once" in sys.argv) -> int:
    """The lake job until asked to stop (with `once`: until it has read what the topic holds),
    restarted with backoff when its query fails; 1 when the `once` run failed."""
    from cryptoviz.lake.job import session
    from cryptoviz.lake.warmup import start_python_workers

    lake = load(LakeSettings)
    kafka = load(KafkaSettings)
    url = lake_url(lake)
    telemetry = Telemetry(
        names.LAKE, clients.redis_client(load(RedisSettings)), load(StackSettings).heartbeat_interval_s
    )
    telemetry.gauge("lake_url", canonical_url(url))
    telemetry.gauge("compacts", lake.lake_compact_max_files > 0)  # cryptoviz lake compact then refuses
    metrics.start(telemetry)
    telemetry.publish("starting")
    fs, base = filesystem(url)
    bus.ensure_topics(kafka.kafka_bootstrap_servers, partitions=kafka.kafka_topic_partitions)
    master = choose_master(lake.spark_master, lake.spark_cluster_master, lake.spark_cluster_wait_s, stop.wait)
    if stop:
        telemetry.publish("stopped")
        return 0
    spark = session(master, lake.spark_ui_port, lake.spark_driver_memory)
    start_python_workers(spark)  # while the query starts, not when its first batch waits
    telemetry.gauge("spark_master", master)
    telemetry.gauge("spark_ui", f"http://127.0.0.1:{lake.spark_ui_port}")
    max_future_s = load(ContractSettings).max_future_s
    writer = batch_writer(fs, base, telemetry, lake)
    start = partial(start_query, spark, kafka, lake, url, writer, max_future_s, once)
    started = time.monotonic()
    backoff = Backoff(base_s=2, cap_s=60)
    log.info("started", lake=url, once=once, spark_ui_port=lake.spark_ui_port)
    try:
        return run_query(start, stop, telemetry, kafka.kafka_bootstrap_servers, backoff, once)
    finally:
        telemetry.gauge("query_seconds", round(time.monotonic() - started, 2))
        spark.stop()
        telemetry.publish("stopped")
        log.info(
            "stopped",
            rows=telemetry.counters["rows_written"],
            quarantined=telemetry.counters["rows_quarantined"],
        )


def batch_writer(fs: pafs.FileSystem, base: str, telemetry: Telemetry, lake: LakeSettings) -> BatchWriter:
    """The foreachBatch sink, with its upkeep started first."""
    from cryptoviz.lake.job import BatchWriter
    from cryptoviz.lake.upkeep import Upkeep

    upkeep = Upkeep(
        fs,
        base,
        telemetry,
        lake.lake_compact_after_s,
        lake.lake_compact_max_files,
        lake.lake_compact_open_files,
    )
    upkeep.start()  # a compaction a kill cut short is finished before the first batch
    return BatchWriter(fs, base, telemetry, upkeep)


def start_query(
    spark: SparkSession,
    kafka: KafkaSettings,
    lake: LakeSettings,
    url: str,
    writer: BatchWriter,
    max_future_s: float,
    once: bool,
) -> StreamingQuery:
    """The streaming query from the raw topic into the lake, started: to the topic's end with `once`,
    else a batch every lake_trigger_s."""
    from cryptoviz.lake.job import quotes_stream

    stream = quotes_stream(
        spark,
        kafka.kafka_bootstrap_servers,
        names.TOPIC_RAW,
        lake.lake_max_offsets_per_trigger,
        max_future_s,
    )
    out = stream.writeStream.foreachBatch(writer).option("checkpointLocation", checkpoint_dir(lake, url))
    trigger = {"availableNow": True} if once else {"processingTime": f"{lake.lake_trigger_s} seconds"}
    return out.trigger(**trigger).queryName("lake").start()


def run_query(
    start: Callable[[], StreamingQuery],
    stop: Stop,
    telemetry: Telemetry,
    bootstrap: str,
    backoff: Backoff,
    once: bool,
) -> int:
    """Start the query and watch it until it ends; a failed query is started again after a backoff,
    or, with `once`, ends the run with 1."""
    failures = 0
    while not stop:
        query = start()
        telemetry.publish("running")
        try:
            watch(query, stop, telemetry, bootstrap)
        finally:
            if query.isActive:
                query.stop()  # graceful: the running batch finishes or is replayed on restart
        error = query.exception()
        if error is None:
            break  # stopped, or --once reached the end
        # e.g. the broker went away mid-batch: the checkpoint replays that batch on restart
        failures += 1
        telemetry.incr("errors.query_failed")
        log.error("query_failed_restarting", failures=failures, error=str(error).splitlines()[0][:300])
        if once:
            return 1
        telemetry.publish("degraded")
        stop.wait(backoff.delay(failures))
    return 0


def watch(query, stop: Stop, telemetry: Telemetry, bootstrap: str) -> None:
    """Heartbeat with the query's progress and how far it is behind the topic, while it runs; counts
    the offsets a batch covered without reading a record (retention deleted them first). A query
    that failed ends the watch (`run_query` reads its exception)."""
    from pyspark.errors import StreamingQueryException

    counted = -1
    while query.isActive and not stop:
        try:
            query.awaitTermination(timeout=telemetry.interval_s)
        except StreamingQueryException:  # raised by the wait once the query failed
            return
        for progress in query.recentProgress:
            if progress.get("batchId", -1) > counted:
                counted = progress["batchId"]
                skipped = offsets_not_read(progress)
                if skipped:
                    telemetry.incr("offsets_skipped", skipped)
                    log.warning("offsets_skipped_below_log_start", batch=counted, offsets=skipped)
        progress = query.lastProgress
        if progress:
            telemetry.gauge("input_rows_per_s", round(progress.get("processedRowsPerSecond") or 0, 1))
            ends = (progress.get("sources") or [{}])[0].get("endOffset")
            if isinstance(ends, str):
                ends = json.loads(ends)
            if ends:
                try:
                    high = bus.high_watermarks(bootstrap, names.TOPIC_RAW)
                    telemetry.gauge(
                        "offsets_behind", sum(high.get(int(p), 0) - int(o) for p, o in ends.items())
                    )
                except KafkaError:
                    telemetry.gauge("offsets_behind", None)
        telemetry.publish()
