"""Kafka clients from settings, topic creation, and the end-of-partition read.

The broker used here (Tansu) answers ListOffsets(latest) wrongly, so `high_watermarks` takes the end
of each partition from a fetch response instead (assign, seek to end, poll once, read highwater).
That is right on Redpanda and Kafka too.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError, KafkaTimeoutError, TopicAlreadyExistsError
from kafka.producer.future import FutureRecordMetadata
from kafka.serializer import Serializer

from cryptoviz import logs, names
from cryptoviz.contracts import dead_letter as dead_letters
from cryptoviz.contracts.dead_letter import DeadLetter
from cryptoviz.contracts.topics import DEAD_LETTER
from cryptoviz.interfaces import NotDelivered, Record
from cryptoviz.retry import Backoff, retry

log = logs.get("bus")


class _KeySerializer(Serializer):
    def serialize(self, topic: str, headers: object, data: str | bytes | None) -> bytes | None:
        return data.encode() if isinstance(data, str) else data


def producer(bootstrap: str, client_id: str = "cryptoviz", **overrides: object) -> KafkaProducer:
    """A producer that keeps per-key order: acks=all, retries on, one request in flight.

    Not idempotent: a request whose answer was lost is sent again, and the topic may then hold a
    message twice, which every reader drops (the lake keeps a (symbol, source_ts) once, the models
    skip a tick not newer than the last). kafka-python's idempotent producer (its default) takes the
    broker's "duplicate sequence" answer to a retry as delivered; the durable broker, stopped in the
    middle of a request, answered so for records it had not kept, and acknowledged messages were
    lost (tests/integration/test_bus.py, `test_a_broker_restart_loses_no_acknowledged_message`)."""
    config: dict = {
        "bootstrap_servers": bootstrap,
        "client_id": client_id,
        "acks": "all",
        "retries": 10,
        "enable_idempotence": False,
        "max_in_flight_requests_per_connection": 1,
        "linger_ms": 5,
        "batch_size": 256 * 1024,
        "retry_backoff_ms": 200,
        "request_timeout_ms": 15000,
        # send() waits this long at most for metadata or buffer space: with the broker down it
        # fails instead of blocking, and the publisher's retry (which honours a stop) takes over
        "max_block_ms": 3000,
        "key_serializer": _KeySerializer(),
    }
    config.update(overrides)
    return KafkaProducer(**config)


SENDER_JOIN_S = 1.0  # how long a forced close waits for the producer's I/O thread to end


def close_producer(producer: KafkaProducer, timeout_s: float) -> KafkaError | None:
    """Deliver what is pending within `timeout_s`, then close. With the broker down what is still
    unacknowledged is given up and the error returned (the caller counts it): never an exception,
    never a wait past the timeout (and SENDER_JOIN_S), at shutdown."""
    try:
        producer.close(timeout=timeout_s)
    except KafkaError as exc:
        log.warning("closed_with_unacknowledged_messages", error=exc)
        _force_close(producer)
        return exc
    return None


def _force_close(producer: KafkaProducer) -> None:
    """Finish a close that gave up on undelivered messages. kafka-python's close stops at the failed
    flush and leaves its I/O thread running, retrying against the broker that is down, until the
    producer is collected and closes again (an ignored exception then). Its sender has the one way
    to stop without sending (private API, no public equivalent): that fails what it still held."""
    sender = producer._sender
    sender.force_close()
    sender.join(SENDER_JOIN_S)
    with contextlib.suppress(KafkaError):
        producer.close(timeout=0)  # nothing is pending any more: the rest of the close runs


ACK_WAIT_STEP_S = 0.5  # how often a wait for the broker's acks looks at the stop signal


def wait_for_acks(
    producer: KafkaProducer, futures: Iterable[FutureRecordMetadata], stopping: Callable[[], bool]
) -> bool:
    """Flush until the broker has answered every future (acked or failed), in steps of
    ACK_WAIT_STEP_S so that a stop is seen while the broker is down. False if stopped first."""
    pending = list(futures)
    while not all(f.is_done for f in pending):
        with contextlib.suppress(KafkaTimeoutError):
            producer.flush(timeout=ACK_WAIT_STEP_S)
        if stopping():
            return False
    return True


# a member that has not polled for this long is taken out of its group (kafka-python leaves it)
MAX_POLL_INTERVAL_MS = 120_000


def consumer(bootstrap: str, *topics: str, group_id: str | None = None, **overrides: object) -> KafkaConsumer:
    """A consumer that commits by hand (only after the result is stored)."""
    config: dict = {
        "bootstrap_servers": bootstrap,
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "session_timeout_ms": 6000,
        "heartbeat_interval_ms": 1000,
        "max_poll_interval_ms": MAX_POLL_INTERVAL_MS,
    }
    config.update(overrides)
    return KafkaConsumer(*topics, **config)


def set_fetch_wait(consumer: KafkaConsumer, wait_ms: int) -> bool:
    """Make the consumer's next fetches wait at most `wait_ms` at the broker for records. kafka-python
    takes `fetch_max_wait_ms` once, at construction, and reads it from its fetcher's own copy of
    the settings for every fetch it builds: that copy is changed here. False, and nothing changed,
    where the installed kafka-python keeps it elsewhere (a test pins where it reads it)."""
    config = getattr(getattr(consumer, "_fetcher", None), "config", None)
    if not isinstance(config, dict) or "fetch_max_wait_ms" not in config:
        return False
    config["fetch_max_wait_ms"] = wait_ms
    return True


def close_consumer(consumer: KafkaConsumer, timeout_ms: int) -> None:
    """Close a group member without a LeaveGroup: the coordinator drops it once its session times out
    (`session_timeout_ms`), and the others take its partitions then.

    Why not leave: Tansu (the local broker, and compose's stand-in for Redpanda) removes a member
    that leaves while the group is rebalancing but keeps it as the group's leader. Every member that
    joins after it is then a follower waiting for an assignment from a leader that is gone (its
    SyncGroup answered REBALANCE_IN_PROGRESS, again and again) until the broker happens to reload the
    group: seen from 36 s to over 5 min, when both ML processors stopped at once. A member that
    expires instead is dropped as leader too. The cost, on any broker: a stopped member's
    partitions wait one session timeout (6 s by default) before another member takes them."""
    # kafka-python sends LeaveGroup on close only for a member that has a generation; forgetting it
    # is the one way to skip it (static membership would too, but Tansu's joins then skip its expiry)
    consumer._coordinator.reset_generation()
    consumer.close(autocommit=False, timeout_ms=timeout_ms)


def ensure_topics(bootstrap: str, topics: tuple[str, ...] = names.ALL_TOPICS, partitions: int = 4) -> None:
    """Create the topics that do not exist yet (idempotent); waits about 30 s for the broker."""
    admin = retry(
        lambda: KafkaAdminClient(bootstrap_servers=bootstrap, client_id="cryptoviz-admin"),
        retry_on=(KafkaError,),
        backoff=Backoff(base_s=0.5, cap_s=2.0),
        attempts=20,
        on_failure=lambda n, exc, delay: log.warning("broker_not_answering", attempt=n, error=exc),
    )
    try:
        existing = set(admin.list_topics())
        missing = [
            NewTopic(t, num_partitions=partitions, replication_factor=1) for t in topics if t not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(missing)
            log.info("topics_created", topics=",".join(t.name for t in missing), partitions=partitions)
    finally:
        admin.close()


# How long the broker may hold a fetch at the end of a partition before it answers. Reading where the
# partitions end fetches at the end on purpose: at kafka-python's 500 ms each look took 0.54 s, at 10
# ms 0.06 s (4 partitions, local broker). 0 is not used: the local broker's answer then carries no
# highwater, and the look ran to its 5 s deadline.
BOUNDS_FETCH_WAIT_MS = 10


def bounds_consumer(bootstrap: str, **overrides: object) -> KafkaConsumer:
    """A consumer of no group for `offset_bounds` (and reads of a topic's newest messages)."""
    config: dict = {
        "bootstrap_servers": bootstrap,
        "group_id": None,
        "enable_auto_commit": False,
        "fetch_max_wait_ms": BOUNDS_FETCH_WAIT_MS,
    }
    config.update(overrides)
    return KafkaConsumer(**config)


def offset_bounds(
    bootstrap: str, topic: str, client: KafkaConsumer | None = None
) -> dict[int, tuple[int, int]]:
    """(log start, end) of every partition of `topic`; the end (next offset to be written) from fetches.
    A `client` of the caller's should come from `bounds_consumer`: at kafka-python's default fetch
    wait every look costs half a second."""
    own = client is None
    cons = client or bounds_consumer(bootstrap)
    try:
        parts = cons.partitions_for_topic(topic)
        deadline = time.monotonic() + 10
        while not parts and time.monotonic() < deadline:
            time.sleep(0.1)
            parts = cons.partitions_for_topic(topic)
        if not parts:
            return {}
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        cons.assign(tps)
        cons.seek_to_end(*tps)
        for tp in tps:  # force the position lookup, then one fetch to learn the highwater
            cons.position(tp)
        result: dict[int, int | None] = {tp.partition: None for tp in tps}
        deadline = time.monotonic() + 5
        while any(v is None for v in result.values()) and time.monotonic() < deadline:
            cons.poll(timeout_ms=200, max_records=1)
            for tp in tps:
                hw = cons.highwater(tp)
                if hw is not None:
                    result[tp.partition] = hw
        begins = cons.beginning_offsets(tps)
        bounds = {}
        for p, hw in result.items():
            begin = begins[TopicPartition(topic, p)]
            bounds[p] = (begin, hw if hw is not None else begin)
        return bounds
    finally:
        if own:
            cons.close()


def high_watermarks(bootstrap: str, topic: str, client: KafkaConsumer | None = None) -> dict[int, int]:
    """The end offset (next offset to be written) of every partition of `topic`, read from fetches."""
    return {p: end for p, (_, end) in offset_bounds(bootstrap, topic, client).items()}


def topic_message_counts(bootstrap: str, topics: tuple[str, ...] = names.ALL_TOPICS) -> dict[str, int]:
    """Messages held per topic (sum over partitions of high watermark minus log start)."""
    out: dict[str, int] = {}
    cons = bounds_consumer(bootstrap)
    try:
        for topic in topics:
            out[topic] = sum(end - begin for begin, end in offset_bounds(bootstrap, topic, cons).values())
    finally:
        cons.close()
    return out


def dead_letter(prod: KafkaProducer, letter: DeadLetter, key: bytes | None = None) -> FutureRecordMetadata:
    """Send a message a consumer could not use (`contracts.dead_letter.refused`) to the dead-letter
    topic. The caller waits on the returned future before it commits past the message."""
    return prod.send(DEAD_LETTER.name, key=key, value=DEAD_LETTER.encode(letter))


class DeadLetterProducer:
    """`interfaces.DeadLetters` on a Kafka producer: each record goes to the dead-letter topic with
    the reason and where it came from; `deliver` waits for the broker's acks (stop-aware)."""

    def __init__(self, producer: KafkaProducer, origin: str) -> None:
        self.producer = producer
        self.origin = origin
        self.pending: list[FutureRecordMetadata] = []

    def send(self, record: Record, reason: str, detail: str) -> None:
        try:
            letter = dead_letters.refused(
                record.value,
                reason,
                self.origin,
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                detail=detail,
            )
            future = dead_letter(self.producer, letter, key=record.key)
        except KafkaError as exc:  # no metadata within max_block_ms: the broker is away
            self.pending = []
            raise NotDelivered(repr(exc)) from None
        self.pending.append(future)

    def deliver(self, stopping: Callable[[], bool]) -> bool:
        pending, self.pending = self.pending, []
        if not wait_for_acks(self.producer, pending, stopping):
            return False
        failed = [f.exception for f in pending if f.failed()]
        if failed:
            raise NotDelivered(repr(failed[0]))
        return True

    def close(self, timeout_s: float) -> KafkaError | None:
        return close_producer(self.producer, timeout_s)
