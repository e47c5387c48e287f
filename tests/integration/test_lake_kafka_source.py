"""The lake source against the real broker: where each micro-batch ends (the driver's side), and
what a worker reads of its share (exactly its ranges, each message judged by the contract)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa

from cryptoviz import bus
from cryptoviz.lake.kafka_source import KafkaRange, KafkaStreamReader
from cryptoviz.lake.rows import lake_of, quarantine_of
from cryptoviz.schema import Quote, encode, make_quote

PARTITIONS = 4


def fill(bootstrap: str, topic: str, n: int) -> None:
    prod = bus.producer(bootstrap)
    for i in range(n):
        prod.send(topic, key=f"k{i % 10}".encode(), value=b"{}", partition=i % PARTITIONS)
    prod.flush()
    prod.close()


def test_available_now_reads_a_backlog_in_batches_of_max_offsets_up_to_where_it_began(
    bootstrap: str, topic_factory
):
    """`--once`: each batch stops at the source's default limit, which Spark hands back to it (the
    lake test checks the batches through Spark), and the run stops at the ends seen when it began,
    whatever arrives after."""
    topic = topic_factory("available-now", partitions=PARTITIONS)
    fill(bootstrap, topic, 1_000)
    reader = KafkaStreamReader({"bootstrap": bootstrap, "topic": topic, "maxOffsetsPerTrigger": "200"})
    start = reader.initialOffset()
    assert start == {str(p): 0 for p in range(PARTITIONS)}
    reader.prepareForTriggerAvailableNow()
    fill(bootstrap, topic, 400)  # after the run began: not this run's
    sizes = []
    for _ in range(20):
        end = reader.latestOffset(start, reader.getDefaultReadLimit())
        if end == start:
            break
        sizes.append(sum(end[p] - start[p] for p in end))
        start = end
    assert sizes == [200] * 5
    assert start == {str(p): 250 for p in range(PARTITIONS)}


def test_available_now_without_a_limit_reads_the_backlog_in_one_batch(bootstrap: str, topic_factory):
    topic = topic_factory("available-now-all", partitions=PARTITIONS)
    fill(bootstrap, topic, 1_000)
    reader = KafkaStreamReader({"bootstrap": bootstrap, "topic": topic})
    start = reader.initialOffset()
    reader.prepareForTriggerAvailableNow()
    everything = {str(p): 250 for p in range(PARTITIONS)}
    assert reader.latestOffset(start, reader.getDefaultReadLimit()) == everything


def test_a_run_to_the_end_asks_the_broker_once_before_its_first_batch(
    bootstrap: str, topic_factory, monkeypatch
):
    """Spark asks an availableNow query's source for the ends it stops at, then (a query without a
    checkpoint) where it starts: one look-up answers both."""
    topic = topic_factory("one-look", partitions=PARTITIONS)
    fill(bootstrap, topic, 100)
    looks: list[tuple] = []
    look_up = bus.offset_bounds

    def counted(*args, **kwargs):
        looks.append(args)
        return look_up(*args, **kwargs)

    monkeypatch.setattr(bus, "offset_bounds", counted)
    reader = KafkaStreamReader({"bootstrap": bootstrap, "topic": topic})
    reader.prepareForTriggerAvailableNow()
    start = reader.initialOffset()
    assert start == {str(p): 0 for p in range(PARTITIONS)}
    assert reader.latestOffset(start, reader.getDefaultReadLimit()) == {str(p): 25 for p in range(PARTITIONS)}
    assert len(looks) == 1


def test_a_worker_reads_exactly_its_share_decoded_by_the_contract(bootstrap: str, topic_factory):
    """A share of three ranges, one ending before its partition does and one of a single record:
    every offset in them once and none outside, quotes as lake rows, the malformed ones (every
    seventh message) refused with the contract's reason."""
    topic = topic_factory("source-read", partitions=PARTITIONS)
    t0 = datetime(2025, 3, 1, tzinfo=UTC)
    prod = bus.producer(bootstrap)
    sent: dict[tuple[int, int], Quote | None] = {}  # None: the malformed message
    for i in range(160):
        p = i % PARTITIONS
        q = make_quote("BTC", 100.0 + i, t0 + timedelta(minutes=i))
        malformed = i % 7 == 0
        prod.send(topic, key=b"BTC", value=b"{oops" if malformed else encode(q), partition=p).get(timeout=30)
        sent[(p, i // PARTITIONS)] = None if malformed else q
    prod.close()
    ranges = [(0, 5, 40), (1, 0, 17), (3, 39, 40)]
    reader = KafkaStreamReader({"bootstrap": bootstrap, "topic": topic})
    table = pa.Table.from_batches(list(reader.read(KafkaRange(ranges))))

    wanted = {(p, o) for p, lo, hi in ranges for o in range(lo, hi)}
    read = places(table, "kafka_partition", "kafka_offset")
    assert len(read) == len(wanted) and set(read) == wanted
    lake, bad = lake_of(table), quarantine_of(table)
    assert set(places(bad, "partition", "offset")) == {key for key in wanted if sent[key] is None}
    assert set(bad.column("reason").to_pylist()) == {"bad_json"}
    assert set(bad.column("value").to_pylist()) == {"{oops"}
    for row in lake.to_pylist():
        quote = sent[(row["kafka_partition"], row["kafka_offset"])]
        assert quote is not None and (row["price_usd"], row["source_ts"]) == (
            quote.price_usd,
            quote.source_ts,
        )


def places(table: pa.Table, partition: str, offset: str) -> list[tuple[int, int]]:
    return list(zip(table.column(partition).to_pylist(), table.column(offset).to_pylist(), strict=True))
