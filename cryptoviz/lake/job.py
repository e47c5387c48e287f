"""The Structured Streaming job: crypto-raw-data -> validated, deduplicated Parquet by symbol and date.

The source's workers decode each message with the contract (cryptoviz.lake.rows): a micro-batch
arrives as typed lake rows, and as refused messages with the contract's reason, which go to the
quarantine with the raw value. Each micro-batch is written by pyarrow through a LakeWriter, which
keeps each (symbol, source_ts) once, and each quarantined (partition, offset), against what the
lake already holds: a batch replayed after a crash, a lost checkpoint, a scraper that republished
its warm-up, all land once. No state store, no watermark: history replayed days late is as welcome
as a live tick.
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
from pyspark.errors import PySparkRuntimeError
from pyspark.sql import DataFrame, SparkSession

from cryptoviz import logs, names
from cryptoviz.lake import class_archive
from cryptoviz.lake.kafka_source import NAME, KafkaDataSource
from cryptoviz.lake.rows import lake_of, quarantine_of
from cryptoviz.lake.upkeep import Upkeep
from cryptoviz.lake.writer import LakeBatch, LakeWriter
from cryptoviz.schema import MAX_FUTURE_S
from cryptoviz.telemetry import Telemetry

log = logs.get(names.LAKE)


def session(
    master: str, ui_port: int, driver_memory: str, app: str = "cryptoviz-lake", java_options: str = ""
) -> SparkSession:
    """The driver, local or on a cluster's master; `java_options` added to its JVM's. It maps the
    class archive `python -m cryptoviz.lake.cds` made, when there is one for this runtime; a JVM
    that does not start with it (an archive damaged since) is started again without, and logged."""
    # the Python workers run this interpreter unless told otherwise: their daemon and the source are
    # modules of this package, which another `python3` on the PATH may not have (pyspark reads only
    # the environment for this, not spark.pyspark.python)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    archive = class_archive.java_options()
    try:
        spark = _builder(master, ui_port, driver_memory, app, f"{archive} {java_options}").getOrCreate()
    except PySparkRuntimeError as exc:
        if not archive:
            raise
        log.warning("spark_class_archive_refused", option=archive, error=str(exc)[:300])
        spark = _builder(master, ui_port, driver_memory, app, java_options).getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    spark.dataSource.register(KafkaDataSource)
    return spark


def _builder(
    master: str, ui_port: int, driver_memory: str, app: str, java_options: str
) -> SparkSession.Builder:
    return (
        SparkSession.builder.master(master)
        .appName(app)
        .config("spark.ui.port", str(ui_port))
        .config("spark.driver.memory", driver_memory)
        # the serial collector: one core's worth of streaming needs no G1 (its remembered sets cost
        # about a tenth of the heap), a smaller code cache than the 240 MB reserved by default, and
        # the quick compiler only (C1): the JVM's own share of a batch is small (the source's workers
        # and the writer are Python), and the optimizing compiler's threads, busy through a fresh
        # JVM's first batch, compete with them for the cores
        .config(
            "spark.driver.extraJavaOptions",
            f"-XX:+UseSerialGC -XX:ReservedCodeCacheSize=64m -XX:TieredStopAtLevel=1 {java_options}",
        )
        # no whole-stage code generation: a batch's plan is the source's scan and a collect, with
        # nothing to fuse, and compiling the generated code is work of a fresh JVM's first batch
        .config("spark.sql.codegen.wholeStage", "false")
        # a Python worker ends with its task instead of idling between micro-batches (a dozen idle
        # workers held ~700 MB; a fork from the daemon per task costs well under a second)
        .config("spark.python.worker.reuse", "false")
        # ...forked from a daemon that has already imported what each of them needs
        .config("spark.python.daemon.module", "cryptoviz.lake.spark_daemon")
        # what the UI keeps of finished work, bounded: a job that runs for weeks keeps a steady heap
        .config("spark.ui.retainedJobs", "200")
        .config("spark.ui.retainedStages", "200")
        .config("spark.sql.ui.retainedExecutions", "100")
        .config("spark.sql.streaming.ui.retainedProgressUpdates", "200")
        # no stage progress bar: the job's output is a log (`cryptoviz up`'s file, the container's),
        # where a bar redrawn with carriage returns is one long unreadable line
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
    )


def quotes_stream(
    spark: SparkSession,
    bootstrap: str,
    topic: str,
    max_offsets: int,
    max_future_s: float = MAX_FUTURE_S,
) -> DataFrame:
    """The topic's messages as the source's rows (cryptoviz.lake.rows.ROW_SCHEMA)."""
    return (
        spark.readStream.format(NAME)
        .option("bootstrap", bootstrap)
        .option("topic", topic)
        .option("maxOffsetsPerTrigger", str(max_offsets))
        .option("tasks", str(spark.sparkContext.defaultParallelism))  # one share of a batch per core
        .option("maxFutureS", str(max_future_s))
        .load()
    )


class BatchWriter:
    """foreachBatch sink: Arrow out of Spark, Parquet in by pyarrow, file names carrying the batch id;
    then, with an `upkeep`, the closed days due for compaction, in the same thread (no race)."""

    def __init__(
        self,
        fs: pafs.FileSystem,
        base: str,
        telemetry: Telemetry,
        upkeep: Upkeep | None = None,
    ) -> None:
        self.quotes = LakeWriter(fs, base, names.LAKE_QUOTES)
        self.quarantine = LakeWriter(fs, base, names.LAKE_QUARANTINE)
        self.telemetry = telemetry
        self.upkeep = upkeep

    def split(self, df: DataFrame) -> tuple[pa.Table, pa.Table]:
        """(lake rows, quarantine rows) of a micro-batch, as Arrow, from one pass over it."""
        table = df.toArrow()
        return lake_of(table), quarantine_of(table)

    def __call__(self, df: DataFrame, batch_id: int) -> None:
        t0 = time.perf_counter()
        good, bad = self.split(df)
        wrote = self.quotes.write(LakeBatch(good, batch_id))
        held = self.quarantine.write(LakeBatch(bad, batch_id))
        elapsed = time.perf_counter() - t0
        if self.upkeep is not None:  # after the batch's own figures: its latency is the write's
            newest = pc.max(good.column("source_ts")).as_py() if good.num_rows else None
            self.upkeep.after_batch(wrote.folders, newest)
        t = self.telemetry
        t.incr("batches")
        t.incr("rows_written", wrote.written)
        t.incr("duplicates_dropped", wrote.dropped)
        t.incr("rows_quarantined", held.written)
        t.gauge("last_batch_id", batch_id)
        t.gauge("last_batch_rows", wrote.written)
        t.gauge("last_batch_duration_s", round(elapsed, 3))
        t.observe("lake_batch", elapsed)
        t.gauge("batch_seconds_total", round(float(t.gauges.get("batch_seconds_total") or 0) + elapsed, 3))
        t.gauge("last_batch_ts", time.time())
        reasons = Counter(r for table in held.tables for r in table.column("reason").to_pylist())
        for reason, n in reasons.items():
            t.incr(f"quarantined.{reason}", n)
        t.maybe_publish()
