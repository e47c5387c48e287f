"""The processor in its consumer group: joining it (`subscribe`, with the listener that forgets
what a rebalance takes away) and the pace of its polls while the stream is quiet (`idle_pause`)."""

from __future__ import annotations

from typing import Protocol

from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition

from cryptoviz.contracts.topics import STREAMING
from cryptoviz.telemetry import Telemetry

IDLE_AFTER_S = 5.0  # no record for this long: the stream is quiet, and polls are spaced out
# a poll after a pause waits this long: about one fetch, and time for the group's protocol to move on
# (polls that never wait leave a rebalance unfinished: kafka-python does its network work inside them)
IDLE_POLL_MS = 100


class Member(Protocol):
    """What the group's listener needs of the processor (`ml.processor.Processor`)."""

    telemetry: Telemetry

    def drop_unsaved(self) -> None: ...


class DropOnRevoke(ConsumerRebalanceListener):
    def __init__(self, processor: Member) -> None:
        self.processor = processor

    def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        # forget everything: what is not in a snapshot yet is not committed either, so the new
        # owner loads the snapshot and reads the rest again (kafka-python keeps the position of a
        # partition this member is given back, so that position goes back first)
        self.processor.drop_unsaved()
        self.processor.telemetry.incr("rebalances")

    def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self.processor.telemetry.gauge("partitions", ",".join(str(tp.partition) for tp in sorted(assigned)))


def subscribe(processor: Member, consumer: KafkaConsumer) -> None:
    """Join the group on the topic whose quotes the processor decodes (`contracts.topics.STREAMING`);
    on a rebalance the processor forgets the partitions it loses."""
    consumer.subscribe([STREAMING.name], listener=DropOnRevoke(processor))


def idle_pause(quiet_s: float, idle_wait_s: float) -> float:
    """How long to wait before the next poll, the stream having brought nothing for `quiet_s`: once
    it has been quiet for IDLE_AFTER_S, `idle_wait_s`; else none. Every poll is a fetch the broker
    answers (the local stack's durable broker, from its S3 store), so an idle stack polls less
    often; the first record after a quiet spell waits up to `idle_wait_s` more."""
    return idle_wait_s if quiet_s >= IDLE_AFTER_S else 0.0
