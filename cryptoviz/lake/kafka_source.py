"""A Kafka streaming source of lake rows on PySpark 4's Python Data Source API (no JVM connector needed).

Offsets are {"<partition>": next_offset}. The end of each partition comes from fetch responses
(cryptoviz.bus.offset_bounds, which gives each log start too), not ListOffsets, which the local
broker answers wrongly. Each micro-batch's offsets are shared out among as many tasks as Spark has
cores (more when a share would pass the chunk size), each share a run of partition ranges (a
partition at most once). A worker reads its share's ranges together with librdkafka's consumer
(confluent-kafka, which parses record batches in C), assigned at their start offsets, in no
consumer group. It decodes each message with the contract (cryptoviz.lake.rows) and yields Arrow
record batches of typed lake rows, and of refused messages with their reason. Spark's checkpoint
keeps the offsets, so a batch replayed after a crash covers exactly the same range.

A range that starts below the log start (retention deleted it before it was read) is read from
the log start: the consumer resets to the earliest offset, never to the latest. What was skipped
shows in the batch's progress (offsets in the range minus rows read, see cryptoviz.lake.progress), which
the service counts.

Options: bootstrap (required), topic (required), startingOffsets (earliest | latest),
maxOffsetsPerTrigger, chunkSize, tasks, maxFutureS (how far past the worker's clock a quote may be
dated).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from itertools import pairwise
from typing import TYPE_CHECKING

from pyspark.sql.datasource import DataSource, DataSourceStreamReader, InputPartition
from pyspark.sql.streaming.datasource import (
    ReadAllAvailable,
    ReadLimit,
    ReadMaxRows,
    SupportsTriggerAvailableNow,
)

from cryptoviz.lake.rows import SPARK_DDL, RowBuilder
from cryptoviz.schema import MAX_FUTURE_S

if TYPE_CHECKING:
    import pyarrow as pa
    from confluent_kafka import Consumer

NAME = "cryptoviz-kafka"
BATCH_ROWS = 10000  # rows a worker hands Spark at a time


class KafkaRange(InputPartition):
    """One task's share of a micro-batch: (partition, start, end) ranges, each partition once."""

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
        # rows go to Spark BATCH_ROWS at a time whatever the chunk: it bounds a task's length, not its memory
        self.chunk = int(options.get("chunksize", 100000))
        self.tasks = max(1, int(options.get("tasks", 1)))  # the job passes Spark's cores
        self.max_future_s = float(options.get("maxfutures", MAX_FUTURE_S))
        self._target: dict | None = None
        self._initial: dict | None = None

    # --- driver side -----------------------------------------------------------------------
    def _bounds(self) -> dict[str, tuple[int, int]]:
        """(log start, end) of each partition: one broker look-up."""
        from cryptoviz import bus

        return {str(p): bounds for p, bounds in bus.offset_bounds(self.bootstrap, self.topic).items()}

    def _ends(self) -> dict[str, int]:
        return ends_of(self._bounds())

    def _start_at(self, bounds: dict[str, tuple[int, int]]) -> dict[str, int]:
        """Where a query without a checkpoint starts, from a look-up's bounds; kept once known."""
        if self._initial is None:
            latest = self.starting == "latest"
            self._initial = {p: end if latest else begin for p, (begin, end) in bounds.items()}
        return self._initial

    def initialOffset(self) -> dict:
        """Where a query without a checkpoint starts; asked once (Spark asks again as it starts, and
        each answer costs a broker round trip)."""
        return dict(self._initial if self._initial is not None else self._start_at(self._bounds()))

    def getDefaultReadLimit(self) -> ReadLimit:
        return ReadMaxRows(self.max_offsets) if self.max_offsets else ReadAllAvailable()

    def prepareForTriggerAvailableNow(self) -> None:
        """The ends this run stops at; Spark asks for them before the initial offset, which comes
        from the same look-up."""
        bounds = self._bounds()
        self._target = ends_of(bounds)
        self._start_at(bounds)

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
        """The share's ranges, all assigned at once (each partition from its start), read until each
        reaches its end; what a fetch brings past an end is left."""
        from confluent_kafka import Consumer, KafkaException, TopicPartition

        assert isinstance(partition, KafkaRange)  # the only kind partitions() makes
        ends = {p: end for p, start, end in partition.pieces if end > start}
        if not ends:
            return
        at = {p: start for p, start, _ in partition.pieces if p in ends}  # the next offset wanted
        cons = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                # librdkafka wants a group id; no group is joined and nothing committed
                "group.id": "cryptoviz-lake-reader",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                # a start below the log start (deleted by retention) is read from the log start
                "auto.offset.reset": "earliest",
                "fetch.wait.max.ms": 50,
                "max.partition.fetch.bytes": 8 * 1024 * 1024,
                "queued.max.messages.kbytes": 16 * 1024,  # what it fetches ahead, per worker
            }
        )
        try:
            cons.assign([TopicPartition(self.topic, p, lo) for p, lo in at.items()])
            rows = RowBuilder(self.max_future_s)
            idle_polls = 0
            while ends:
                # consume() returns when it has that many or at its timeout: asked for no more than
                # the ranges hold, it does not wait out the timeout on the last records
                wanted = min(BATCH_ROWS, sum(ends[p] - at[p] for p in ends))
                records = cons.consume(num_messages=wanted, timeout=1.0)
                if not records:
                    idle_polls += 1
                    self._close_finished(cons, ends)  # past its end by offsets no record carries
                    if idle_polls > 60 and ends:
                        raise RuntimeError(f"{self.topic} stuck before the ends {ends}")
                    continue
                idle_polls = 0
                now = datetime.now(UTC)
                for rec in records:
                    if (error := rec.error()) is not None:
                        raise KafkaException(error)
                    p, offset = rec.partition(), rec.offset()
                    if p is None or offset is None or p not in ends or offset >= ends[p]:
                        continue  # past its range (a record without a place is an error, raised above)
                    rows.add(p, offset, rec.key(), rec.value(), rec.timestamp()[1], now)
                    at[p] = offset + 1
                    if offset + 1 >= ends[p]:
                        del ends[p]
                        cons.pause([TopicPartition(self.topic, p)])
                if len(rows) >= BATCH_ROWS or not ends:
                    yield from rows.batches()
        finally:
            cons.close()

    def _close_finished(self, cons: Consumer, ends: dict[int, int]) -> None:
        """Drop from `ends` the partitions whose position has reached their end without a record at
        it (the last offsets a transaction's markers, say)."""
        from confluent_kafka import TopicPartition

        for tp in cons.position([TopicPartition(self.topic, p) for p in ends]):
            if tp.offset >= ends[tp.partition]:
                del ends[tp.partition]


def ends_of(bounds: Mapping[str, tuple[int, int]]) -> dict[str, int]:
    """The ends of a look-up's (log start, end) bounds."""
    return {p: end for p, (_, end) in bounds.items()}


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


class KafkaDataSource(DataSource):
    @classmethod
    def name(cls) -> str:
        return NAME

    def schema(self) -> str:
        return SPARK_DDL  # cryptoviz.lake.rows.ROW_SCHEMA

    def streamReader(self, schema) -> DataSourceStreamReader:
        return KafkaStreamReader(self.options)
