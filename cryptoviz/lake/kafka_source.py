"""A Kafka streaming source on PySpark 4's Python Data Source API (no JVM connector needed).

Offsets are {"<partition>": next_offset}. The end of each partition comes from fetch responses
(cryptoviz.bus.high_watermarks), not ListOffsets, which the local broker answers wrongly. Each
micro-batch's range is split into chunks read by workers with assign + seek (no consumer group),
as Arrow record batches. Spark's checkpoint keeps the offsets, so a batch replayed after a crash
covers exactly the same range.

A range that starts below the log start (retention deleted it before it was read) is read from
the log start: the consumer resets to the earliest offset, never to the latest. What was skipped
shows in the batch's progress (offsets in the range minus rows read, see cryptoviz.lake.progress), which
the service counts.

Options: bootstrap (required), topic (required), startingOffsets (earliest | latest),
maxOffsetsPerTrigger, chunkSize.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise

import pyarrow as pa
from pyspark.sql.datasource import DataSource, DataSourceStreamReader, InputPartition
from pyspark.sql.streaming.datasource import (
    ReadAllAvailable,
    ReadLimit,
    ReadMaxRows,
    SupportsTriggerAvailableNow,
)

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
    def __init__(self, partition: int, start: int, end: int) -> None:
        self.partition = partition
        self.start = start
        self.end = end


class KafkaStreamReader(DataSourceStreamReader, SupportsTriggerAvailableNow):
    def __init__(self, options: dict) -> None:
        self.bootstrap = options["bootstrap"]
        self.topic = options["topic"]
        self.starting = options.get("startingOffsets", "earliest")
        self.max_offsets = (
            int(options["maxOffsetsPerTrigger"]) if options.get("maxOffsetsPerTrigger") else None
        )
        # rows go to Spark 10,000 at a time whatever the chunk: it bounds a task's length, not its memory
        self.chunk = int(options.get("chunkSize", 100000))
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
        for p in ends:
            ends.setdefault(p, 0)
        if isinstance(limit, ReadMaxRows) and ends:
            per_partition = max(1, limit.max_rows // len(ends))
            return {p: min(end, start.get(p, 0) + per_partition) for p, end in ends.items()}
        return ends

    def partitions(self, start: dict, end: dict) -> list[InputPartition]:
        """Each partition's range in the fewest pieces of at most `chunk` offsets, all of about one
        size: a task costs a worker's start and a consumer's, so 55,000 offsets at a chunk of 50,000
        make two tasks of 27,500, not one of 50,000 and a second of 5,000 that waits for a core."""
        out: list[InputPartition] = []
        for p, stop in end.items():
            begin = start.get(p, 0)
            if stop <= begin:
                continue
            pieces = -(-(stop - begin) // self.chunk)
            bounds = [begin + (stop - begin) * i // pieces for i in range(pieces + 1)]
            out.extend(KafkaRange(int(p), lo, hi) for lo, hi in pairwise(bounds))
        return out

    def commit(self, end: dict) -> None:
        pass

    # --- worker side -----------------------------------------------------------------------
    def read(self, partition: InputPartition) -> Iterator[pa.RecordBatch]:
        from kafka import KafkaConsumer, TopicPartition

        assert isinstance(partition, KafkaRange)  # the only kind partitions() makes

        tp = TopicPartition(self.topic, partition.partition)
        cons = KafkaConsumer(
            bootstrap_servers=self.bootstrap,
            enable_auto_commit=False,
            group_id=None,
            # a start below the log start (deleted by retention) is read from the log start
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=8 * 1024 * 1024,
        )
        try:
            cons.assign([tp])
            cons.seek(tp, partition.start)
            cols: dict[str, list] = {name: [] for name in ARROW_SCHEMA.names}
            position = partition.start
            idle_polls = 0
            while position < partition.end:
                records = cons.poll(timeout_ms=1000, max_records=10000).get(tp, [])
                idle_polls = 0 if records else idle_polls + 1
                if idle_polls > 60:
                    raise RuntimeError(f"{self.topic}[{partition.partition}] stuck at offset {position}")
                for rec in records:
                    if rec.offset >= partition.end:
                        position = partition.end
                        break
                    cols["key"].append(rec.key.decode("utf-8", "replace") if rec.key is not None else None)
                    value, utf8 = _text(rec.value)
                    cols["value"].append(value)
                    cols["value_utf8"].append(utf8)
                    cols["topic"].append(self.topic)
                    cols["partition"].append(partition.partition)
                    cols["offset"].append(rec.offset)
                    cols["timestamp"].append(rec.timestamp * 1000)
                    position = rec.offset + 1
                if len(cols["offset"]) >= 10000 or (position >= partition.end and cols["offset"]):
                    yield pa.RecordBatch.from_pydict(cols, schema=ARROW_SCHEMA)
                    cols = {name: [] for name in ARROW_SCHEMA.names}
        finally:
            cons.close()


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
        return KafkaStreamReader(dict(self.options))
