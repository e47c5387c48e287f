"""The Structured Streaming job: crypto-raw-data -> validated, deduplicated Parquet by symbol and date.

Validation runs in the JVM as column expressions generated from the contract
(`cryptoviz.lake.validation.accepted`, stricter than the contract); only a message they do not
accept goes to the contract's own validator (cryptoviz.schema), in the driver, which accepts it or
gives the reason. The Spark schema of a row is derived from cryptoviz.schema.FIELDS: one definition.
Rows that fail go to the quarantine with the raw value and the reason. Each micro-batch is
written by pyarrow through a LakeWriter, which keeps each (symbol, source_ts) once, and each
quarantined (partition, offset), against what the lake already holds: a batch replayed after a
crash, a lost checkpoint, a scraper that republished its warm-up, all land once. No state store,
no watermark: history replayed days late is as welcome as a live tick.
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
from pyspark.errors import PySparkRuntimeError
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from cryptoviz import logs, names
from cryptoviz.lake import class_archive
from cryptoviz.lake.kafka_source import NAME, KafkaDataSource
from cryptoviz.lake.upkeep import Upkeep
from cryptoviz.lake.validation import accepted, judge
from cryptoviz.lake.writer import LAKE_SCHEMA, LakeBatch, LakeWriter
from cryptoviz.schema import FIELDS, MAX_FUTURE_S
from cryptoviz.telemetry import Telemetry

log = logs.get(names.LAKE)
_SPARK_TYPES = {int: T.IntegerType(), str: T.StringType(), float: T.DoubleType(), datetime: T.StringType()}


def spark_schema() -> T.StructType:
    """The quote as Spark parses it from JSON (timestamps as ISO strings, converted after)."""
    return T.StructType(
        [T.StructField(name, _SPARK_TYPES[typ], nullable) for name, (typ, nullable) in FIELDS.items()]
    )


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
        # about a tenth of the heap), and a smaller code cache than the 240 MB reserved by default
        .config(
            "spark.driver.extraJavaOptions", f"-XX:+UseSerialGC -XX:ReservedCodeCacheSize=64m {java_options}"
        )
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
    raw = (
        spark.readStream.format(NAME)
        .option("bootstrap", bootstrap)
        .option("topic", topic)
        .option("maxOffsetsPerTrigger", str(max_offsets))
        .option("tasks", str(spark.sparkContext.defaultParallelism))  # one share of a batch per core
        .load()
    )
    return validated(raw, max_future_s)


def validated(raw: DataFrame, max_future_s: float = MAX_FUTURE_S) -> DataFrame:
    """Messages in the Kafka source's schema, parsed, with whether the expressions accept each."""
    parsed = raw.withColumn("q", F.from_json("value", spark_schema()))
    return parsed.withColumn(
        "accepted", accepted(F.col("value"), F.col("value_utf8"), F.col("q"), max_future_s)
    )


def lake_columns() -> list[Column]:
    """A lake row from the parsed message (a timestamp that does not parse is null, not an error:
    the rows the expressions refuse are dropped from these columns, not failed by them)."""
    cols = [F.col(f"q.{name}").alias(name) for name in FIELDS if name not in ("source_ts", "ingest_ts")]
    event = F.try_to_timestamp(F.col("q.source_ts"))
    return [
        *cols,
        event.alias("source_ts"),
        F.try_to_timestamp(F.col("q.ingest_ts")).alias("ingest_ts"),
        F.date_format(event, "yyyy-MM-dd").alias("date"),
        F.col("partition").alias("kafka_partition"),
        F.col("offset").alias("kafka_offset"),
    ]


def good_rows(df: DataFrame) -> DataFrame:
    """Lake rows of valid quotes (the caller keeps only those)."""
    return df.select(*lake_columns())


def batch_rows(df: DataFrame) -> DataFrame:
    """Each row of a micro-batch once: its lake row, whether the expressions accepted it, and for
    the others the message itself (what the Python validator and the quarantine need)."""
    rest = ~F.col("accepted")
    return df.select(
        *lake_columns(),
        F.col("accepted"),
        F.when(rest, F.col("key")).alias("key"),
        F.when(rest, F.col("value")).alias("value"),
        F.col("value_utf8"),
        F.date_format(F.col("timestamp"), "yyyy-MM-dd").alias("received_date"),
    )


class BatchWriter:
    """foreachBatch sink: Arrow out of Spark, Parquet in by pyarrow, file names carrying the batch id;
    then, with an `upkeep`, the closed days due for compaction, in the same thread (no race)."""

    def __init__(
        self,
        fs: pafs.FileSystem,
        base: str,
        telemetry: Telemetry,
        max_future_s: float,
        upkeep: Upkeep | None = None,
    ) -> None:
        self.quotes = LakeWriter(fs, base, names.LAKE_QUOTES)
        self.quarantine = LakeWriter(fs, base, names.LAKE_QUARANTINE)
        self.telemetry = telemetry
        self.max_future_s = max_future_s
        self.upkeep = upkeep

    def split(self, df: DataFrame) -> tuple[pa.Table, pa.Table]:
        """(good rows, quarantined rows) of a micro-batch, as Arrow, from one pass over it; the rows
        the expressions did not accept are judged by the contract's Python validator, here."""
        table = batch_rows(df).toArrow()
        accepted = table.column("accepted").fill_null(False)
        good = table.filter(accepted).select(LAKE_SCHEMA.names)
        rest = table.filter(pc.invert(accepted))
        if not rest.num_rows:
            return good, pa.table({})
        self.telemetry.incr("rows_validated_in_python", rest.num_rows)
        also, bad = judge(rest, self.max_future_s)
        if not also.num_rows:
            return good, bad
        # in the order read: of two rows with one key, the first one stays
        both = pa.concat_tables([good.cast(LAKE_SCHEMA), also])
        order = pc.sort_indices(both, [("kafka_partition", "ascending"), ("kafka_offset", "ascending")])
        return both.take(order), bad

    def __call__(self, df: DataFrame, batch_id: int) -> None:
        t0 = time.perf_counter()
        good, bad = self.split(df)
        wrote = self.quotes.write(LakeBatch(good.cast(LAKE_SCHEMA), batch_id))
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
