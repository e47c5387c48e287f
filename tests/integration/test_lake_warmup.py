"""The lake job's Python workers' daemon, started before the first batch (cryptoviz.lake.warmup), in
a real local Spark: the empty read starts it, and the Kafka source's tasks then use that one."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from cryptoviz import bus
from cryptoviz.lake import job
from cryptoviz.lake.warmup import start_python_workers
from cryptoviz.schema import encode, make_quote
from cryptoviz.servers import free_port
from cryptoviz.testing.procs import kids

pytestmark = pytest.mark.spark


def daemons(jvm_pid: int) -> list[int]:
    """The JVM's child processes running the lake's Python daemon."""
    out = []
    for pid in kids(jvm_pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:  # ended meanwhile
            continue
        if b"cryptoviz.lake.spark_daemon" in cmdline:
            out.append(pid)
    return out


def test_the_daemon_is_started_before_the_first_batch_and_serves_the_kafka_sources_tasks(
    bootstrap: str, topic_factory, tmp_path
):
    topic = topic_factory("lake-warmup")
    prod = bus.producer(bootstrap)
    q = make_quote("BTC", 100.0, datetime(2025, 3, 1, tzinfo=UTC))
    prod.send(topic, key=b"BTC", value=encode(q)).get(timeout=30)
    prod.close()
    spark = job.session("local[1]", free_port(), "512m", app="cryptoviz-warmup-test")
    try:
        assert spark._jvm is not None
        jvm = spark._jvm.java.lang.ProcessHandle.current().pid()
        assert daemons(jvm) == [], "no Python task has run yet"
        start_python_workers(spark).join(timeout=300)
        started = daemons(jvm)
        assert len(started) == 1
        counts: list[int] = []
        query = (
            job.quotes_stream(spark, bootstrap, topic, 1000)
            .writeStream.foreachBatch(lambda df, _: counts.append(df.count()))
            .option("checkpointLocation", str(tmp_path / "checkpoint"))
            .trigger(availableNow=True)
            .start()
        )
        query.awaitTermination()
        assert counts == [1]
        assert daemons(jvm) == started, "the source's tasks forked from the daemon already started"
    finally:
        spark.stop()
