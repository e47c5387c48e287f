"""The Python workers' daemon started while the lake query starts, not when its first batch waits.

Spark starts a Python daemon (`cryptoviz.lake.spark_daemon`, which imports what the workers need)
when a task first needs one, so the first micro-batch after a start waits for it (about 1.3 s of a
cold batch here, traced). An empty read of a Python data source, in a thread of its own, has Spark
start it while the driver is still starting the query. Spark keys its daemons by the environment of
a task's function, which a Python data source's read shares with the Kafka source's (an RDD job's
would start a daemon of its own).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

from pyspark.sql.datasource import DataSource, DataSourceReader, InputPartition

from cryptoviz import logs, names

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

NAME = "cryptoviz-idle"
log = logs.get(names.LAKE)


class IdleReader(DataSourceReader):
    def partitions(self) -> list[InputPartition]:
        return [InputPartition(0)]

    def read(self, partition: InputPartition) -> Iterator[tuple]:
        return iter(())


class IdleSource(DataSource):
    """A batch source of no rows, read by one task."""

    @classmethod
    def name(cls) -> str:
        return NAME

    def schema(self) -> str:
        return "nothing int"

    def reader(self, schema) -> DataSourceReader:
        return IdleReader()


def start_python_workers(spark: SparkSession) -> threading.Thread:
    """Start the workers' daemon in the background; a failure is logged, never raised (the first
    batch then starts it, as it would have)."""
    spark.dataSource.register(IdleSource)

    def read() -> None:
        try:
            spark.read.format(NAME).load().collect()
        except Exception as exc:  # a stopped session, a cluster without workers yet: not this job's failure
            log.warning("python_workers_not_started", error=str(exc)[:300])

    thread = threading.Thread(target=read, name="spark-python-workers", daemon=True)
    thread.start()
    return thread
