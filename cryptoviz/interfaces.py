"""The small interfaces the services' logic is written against, so that logic runs on in-memory
doubles (`cryptoviz.testing.doubles`) in unit tests and on Kafka, Redis and S3 in the services.

- `Sink`: takes a batch and stores it durably, or raises; a caller commits past a batch only once
  `write` returned. The quote publisher (Kafka + the latest-quote hash), the ML store (Redis) and the
  lake writer (Parquet) implement it.
- `Consumer`: the part of a Kafka consumer the ML processor uses (poll, seek, commit, the lag
  figures); `KafkaConsumer` has it, and so does the in-memory `ListConsumer`.
- `Record`: what a consumer hands out (kafka-python's ConsumerRecord has these fields).
- `DeadLetters`: where records nobody can use go, with a wait for the broker's acknowledgement
  before anything is committed past them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, TypeAlias, TypeVar

from kafka import OffsetAndMetadata, TopicPartition

B_contra = TypeVar("B_contra", contravariant=True)
R_co = TypeVar("R_co", covariant=True)


class NotDelivered(Exception):
    """A sink did not take (all of) a batch: nothing may be committed past it."""


class Sink(Protocol[B_contra, R_co]):
    def write(self, batch: B_contra) -> R_co:
        """Store the batch durably and say what was stored, or raise: never a silent partial write."""
        ...


class Record(Protocol):
    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


Offsets: TypeAlias = Mapping[TopicPartition, OffsetAndMetadata]


class Consumer(Protocol):
    def poll(
        self, timeout_ms: int = 0, max_records: int | None = None
    ) -> Mapping[TopicPartition, Sequence[Record]]: ...
    def seek(self, partition: TopicPartition, offset: int) -> None: ...
    def commit(self, offsets: Offsets, timeout_ms: int | None = None) -> None: ...
    def assignment(self) -> set[TopicPartition]: ...
    def highwater(self, partition: TopicPartition) -> int | None: ...
    def position(self, partition: TopicPartition, timeout_ms: int | None = None) -> int: ...


class DeadLetters(Protocol):
    def send(self, record: Record, reason: str, detail: str) -> None:
        """Queue the record for the dead-letter topic; NotDelivered if it cannot even be queued."""
        ...

    def deliver(self, stopping: Callable[[], bool]) -> bool:
        """Wait until every queued record is acknowledged: True; False if `stopping()` first;
        NotDelivered if the broker refused one (the queue is emptied either way)."""
        ...
