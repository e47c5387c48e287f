"""The lake source's driver side against the real broker: where each micro-batch ends."""

from __future__ import annotations

from cryptoviz import bus
from cryptoviz.lake.kafka_source import KafkaStreamReader

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
