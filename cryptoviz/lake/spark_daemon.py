"""Spark's Python daemon (`spark.python.daemon.module`), with the lake's worker imports done once.

With `spark.python.worker.reuse=false` (cryptoviz.lake.job) every task forks a fresh worker from
this daemon, and each worker imported pyspark's worker, pandas, pyarrow, confluent-kafka, the data
source API and the lake's source with the contract's decoder again before it read a row (about 1 s
a task here). Imported here, before the daemon forks, they come with the fork.

pyspark's own daemon imports nothing before it forks because a module may start a thread on import,
and a fork copies no thread but every lock one held. Here the two that would are told not to: numpy's
OpenBLAS pool (a worker does no linear algebra) and the Arrow allocator's background purge thread.
`threads()` says how many the daemon has; a test checks it is one.
"""

from __future__ import annotations

import os

os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["JE_ARROW_MALLOC_CONF"] = "background_thread:false"

import confluent_kafka  # noqa: F401
import pandas  # noqa: F401
import pyarrow  # noqa: F401
import pyspark.sql.datasource
import pyspark.sql.streaming.datasource
import pyspark.worker  # noqa: F401
from pyspark import daemon

import cryptoviz.lake.kafka_source  # noqa: F401  (the source and the contract's decoder)


def threads() -> int:
    """This process's OS threads."""
    return len(os.listdir("/proc/self/task"))


if __name__ == "__main__":
    daemon.manager()
