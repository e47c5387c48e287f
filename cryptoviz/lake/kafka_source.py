"""A Kafka streaming source on PySpark 4's Python Data Source API (no JVM connector needed).

Offsets are {"<partition>": next_offset}. The end of each partition comes from fetch responses
(cryptoviz.bus.high_watermarks), not ListOffsets, which the local broker answers wrongly. Each
micro-batch's offsets are shared out among as many tasks as Spark has cores (more when a share
would pass the chunk size), each share a run of partition ranges read one after another by a
worker with assign + seek (no consumer group), as Arrow record batches. Spark's checkpoint keeps
the offsets, so a batch replayed after a crash covers exactly the same range.

A range that starts below the log start (retention deleted it before it was read) is read from
the log start: the consumer resets to the earliest offset, never to the latest. What was skipped
shows in the batch's progress (offsets in the range minus rows read, see cryptoviz.lake.progress), which
the service counts.

Options: bootstrap (required), topic (required), startingOffsets (earliest | latest),
maxOffsetsPerTrigger, chunkSize, tasks.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from itertools import pairwise
from typing import TYPE_CHECKING

import pyarrow as pa
from pyspark.sql.datasource import DataSource, DataSourceStreamReader, InputPartition
from pyspark.sql.streaming.datasource import (
    ReadAllAvailable,
    ReadLimit,
    ReadMaxRows,
    SupportsTriggerAvailableNow,
)

if TYPE_CHECKING:
    from kafka import KafkaConsumer

NAME = "cryptoviz-kafka"
# value_utf8: False when the value was not UTF-8 (it then holds the bytes with U+FFFD for each bad
# sequence, which could otherwise read as a valid quote)
SCHEMA = (
    "key string, value string, value_utf8 boolean, topic string, partition int, offset bigint, "
    "timestamp timestamp"
)
ARROW_SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("value", pa.string()),
        ("value_utf8", pa.bool_()),
        ("topic", pa.string()),
        ("partition", pa.int32()),
        ("offset", pa.int64()),
        ("timestamp", pa.timestamp("us", tz="UTC")),
    ]
)


class KafkaRange(InputPartition):
    """One task's share of a micro-batch: (partition, start, end) ranges, read in this order."""

    def __init__(self, pieces: list[tuple[int, int, int]]) -> None:
        self.pieces = pieces


class KafkaStreamReader(DataSourceStreamReader, SupportsTriggerAvailableNow):
    def __init__(self, options: Mapping[str, str]) -> None:
        # Spark hands the options with their names lower-cased, as any of its sources takes them
        options = {name.lower(): value for name, value in options.items()}
        self.bootstrap = options["bootstrap"]
        self.topic = options["topic"]
        self.starting = options.get("startingoffsets", "earliest")
        self.max_offsets = (
            int(options["maxoffsetspertrigger"]) if options.get("maxoffsetspertrigger") else None
        )
        # rows go to Spark 10,000 at a time whatever the chunk: it bounds a task's length, not its memory
        self.chunk = int(options.get("chunksize", 100000))
        self.tasks = max(1, int(options.get("tasks", 1)))  # the job passes Spark's cores
        self._target: dict | None = None

    # --- driver side -----------------------------------------------------------------------
    def _ends(self) -> dict[str, int]:
        from cryptoviz import bus

        return {str(p): end for p, end in bus.high_watermarks(self.bootstrap, self.topic).items()}

    def _begins(self) -> dict[str, int]:
        from cryptoviz import bus

        return {str(p): begin for p, (begin, _) in bus.offset_bounds(self.bootstrap, self.topic).items()}

    def initialOffset(self) -> dict:
        return self._ends() if self.starting == "latest" else self._begins()

    def getDefaultReadLimit(self) -> ReadLimit:
        return ReadMaxRows(self.max_offsets) if self.max_offsets else ReadAllAvailable()

    def prepareForTriggerAvailableNow(self) -> None:
        self._target = self._ends()

    def latestOffset(self, start: dict, limit: ReadLimit) -> dict:
        ends = dict(self._target) if self._target is not None else self._ends()
        for p in start:  # a partition never goes backwards
            ends[p] = max(ends.get(p, start[p]), start[p])
        return capped(start, ends, limit.max_rows) if isinstance(limit, ReadMaxRows) else ends

    def partitions(self, start: dict, end: dict) -> list[InputPartition]:
        """The batch's offsets in `tasks` shares of about one size, or more when a share would pass
        `chunk`; a share runs on from one partition into the next. Each task costs a worker forked
        and a consumer connected (about 0.6 s here): 4 partitions on 2 cores as 4 tasks ran in two
        waves, each paying it, where 2 tasks of two partitions' worth pay it once per core."""
        spans = [(int(p), start.get(p, 0), stop) for p, stop in end.items() if stop > start.get(p, 0)]
        total = sum(hi - lo for _, lo, hi in spans)
        if not total:
            return []
        shares = min(total, max(self.tasks, -(-total // self.chunk)))
        cuts = [total * i // shares for i in range(shares + 1)]  # in the spans laid end to end
        out: list[InputPartition] = []
        for first, last in pairwise(cuts):
            pieces = []
            at = 0  # where the span begins, end to end
            for p, lo, hi in spans:
                a, b = max(first, at), min(last, at + hi - lo)
                if a < b:
                    pieces.append((p, lo + a - at, lo + b - at))
                at += hi - lo
            out.append(KafkaRange(pieces))
        return out

    def commit(self, end: dict) -> None:
        pass

    # --- worker side -----------------------------------------------------------------------
    def read(self, partition: InputPartition) -> Iterator[pa.RecordBatch]:
        from kafka import KafkaConsumer

        assert isinstance(partition, KafkaRange)  # the only kind partitions() makes

        cons = KafkaConsumer(
            bootstrap_servers=self.bootstrap,
            enable_auto_commit=False,
            group_id=None,
            # a start below the log start (deleted by retention) is read from the log start
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=8 * 1024 * 1024,
        )
        try:
            for p, start, end in partition.pieces:
                yield from self._read_range(cons, p, start, end)
        finally:
            cons.close()

    def _read_range(self, cons: KafkaConsumer, p: int, start: int, end: int) -> Iterator[pa.RecordBatch]:
        from kafka import TopicPartition

        tp = TopicPartition(self.topic, p)
        cons.assign([tp])
        cons.seek(tp, start)
        cols: dict[str, list] = {name: [] for name in ARROW_SCHEMA.names}
        position = start
        idle_polls = 0
        while position < end:
            records = cons.poll(timeout_ms=1000, max_records=10000).get(tp, [])
            idle_polls = 0 if records else idle_polls + 1
            if idle_polls > 60:
                raise RuntimeError(f"{self.topic}[{p}] stuck at offset {position}")
            for rec in records:
                if rec.offset >= end:
                    position = end
                    break
                cols["key"].append(rec.key.decode("utf-8", "replace") if rec.key is not None else None)
                value, utf8 = _text(rec.value)
                cols["value"].append(value)
                cols["value_utf8"].append(utf8)
                cols["topic"].append(self.topic)
                cols["partition"].append(p)
                cols["offset"].append(rec.offset)
                cols["timestamp"].append(rec.timestamp * 1000)
                position = rec.offset + 1
            if len(cols["offset"]) >= 10000 or (position >= end and cols["offset"]):
                yield pa.RecordBatch.from_pydict(cols, schema=ARROW_SCHEMA)
                cols = {name: [] for name in ARROW_SCHEMA.names}


def capped(start: dict[str, int], ends: dict[str, int], max_rows: int) -> dict[str, int]:
    """`ends` cut to `max_rows` offsets past `start` in all, shared among the partitions in proportion
    to what each has to read, as Spark's Kafka source does: no partition's symbols fall behind the
    others' in a backlog read over several batches."""
    backlog = {p: end - start.get(p, 0) for p, end in ends.items()}
    total = sum(backlog.values())
    if total <= max_rows:
        return dict(ends)
    share = {p: n * max_rows // total for p, n in backlog.items()}
    left = max_rows - sum(share.values())  # what the floors cut, one offset each where they cut most
    for p in sorted(backlog, key=lambda p: backlog[p] * max_rows % total, reverse=True)[:left]:
        share[p] += 1
    return {p: start.get(p, 0) + share[p] for p in ends}


def _text(raw: bytes | None) -> tuple[str | None, bool]:
    if raw is None:
        return None, True
    try:
        return raw.decode("utf-8"), True
    except UnicodeDecodeError:
        return raw.decode("utf-8", "replace"), False


class KafkaDataSource(DataSource):
    @classmethod
    def name(cls) -> str:
        return NAME

    def schema(self) -> str:
        return SCHEMA

    def streamReader(self, schema) -> DataSourceStreamReader:
        return KafkaStreamReader(self.options)
