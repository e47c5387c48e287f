"""Group membership and the consumer's fetch wait, against the real broker; the producer's
messages through restarts of the durable broker."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import suppress

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from cryptoviz import bus, servers
from cryptoviz.testing.harness import RealServers, wait_for
from cryptoviz.testing.members import GroupMember

PARTITIONS = 2


def own_every_partition(*members: GroupMember) -> Callable[[], bool]:
    def check() -> bool:
        owned = [m.assigned() for m in members]
        return all(owned) and len(set().union(*owned)) == PARTITIONS

    return check


def test_a_group_whose_members_all_stopped_takes_new_members(bootstrap: str, topic_factory):
    """Both members stop, the follower first: on the local broker a leader that left while the group
    was rebalancing stayed its leader, and the next members waited on it for minutes (each order in
    a group of its own, so one of the two stops the leader second whoever was elected)."""
    topic = topic_factory("members", partitions=PARTITIONS)
    groups = [f"stop-{order}-{uuid.uuid4().hex[:6]}" for order in ("ab", "ba")]
    everyone: list[GroupMember] = []
    try:
        pairs = []
        for group in groups:
            pairs.append([GroupMember(bootstrap, topic, group), GroupMember(bootstrap, topic, group)])
            everyone += pairs[-1]
        for pair in pairs:
            wait_for(own_every_partition(*pair), 60, "two members sharing the partitions")
        for first, second in (pairs[0], pairs[1][::-1]):
            first.stop()
            second.stop()
        newcomers = [GroupMember(bootstrap, topic, g) for g in groups]
        everyone += newcomers
        # the stopped members expire after the session timeout (6 s), then one rebalance
        for newcomer in newcomers:
            wait_for(own_every_partition(newcomer), 90, "the new member to own every partition")
    finally:
        for m in everyone:
            if not m.stopping.is_set():
                m.stop()


def test_a_changed_fetch_wait_goes_out_with_the_next_fetches(bootstrap: str, topic_factory):
    """`bus.set_fetch_wait` relies on where kafka-python reads the wait when it builds a fetch (its
    fetcher's copy of the settings): the fetches it builds next carry the new wait."""
    topic = topic_factory("wait", partitions=PARTITIONS)
    consumer = bus.consumer(bootstrap, fetch_max_wait_ms=100)
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(partitions)
        assert all(consumer.position(tp) == 0 for tp in partitions)

        def waits() -> set[int]:
            return {request.max_wait_ms for request, _ in consumer._fetcher._create_fetch_requests().values()}

        assert waits() == {100}
        assert bus.set_fetch_wait(consumer, 20)
        assert waits() == {20}
    finally:
        consumer.close()


RESTARTS = 4


def test_a_broker_restart_loses_no_acknowledged_message(tmp_path):
    """Keyed messages to two topics of the durable broker (Tansu over the S3 server), acks awaited
    one round at a time as the publisher does, while the broker is stopped and started RESTARTS
    times, each once messages were acknowledged since the last: every acknowledged message is in
    its topic afterwards (some twice: a request whose answer was lost is sent again). With
    kafka-python's idempotent producer a few acknowledged messages were missing in every run."""
    with RealServers(tmp_path) as real:
        broker = real.start_durable_broker()
        topics = ("restart-a", "restart-b")
        bus.ensure_topics(broker.address, topics)
        producer = bus.producer(broker.address)
        acked: list[tuple[str, bytes]] = []
        stop = threading.Event()

        def send() -> None:
            n = 0
            while not stop.is_set():
                sent = []
                for key in ("BTC", "ETH", "SOL", "XRP"):
                    for topic in topics:
                        value = f"{n}-{key}".encode()
                        with suppress(KafkaError):  # no metadata while the broker is away: not sent
                            sent.append((topic, value, producer.send(topic, key=key, value=value)))
                for topic, value, future in sent:
                    try:
                        future.get(timeout=30)
                        acked.append((topic, value))
                    except KafkaError:  # not acknowledged: nothing is promised of it
                        pass
                n += 1

        sender = threading.Thread(target=send)
        sender.start()
        try:
            for _ in range(RESTARTS):
                seen = len(acked)
                wait_for(lambda seen=seen: len(acked) >= seen + 200, 60, "messages acknowledged")
                servers.stop_pid(broker.pid)
                broker = real.start_durable_broker(broker.port)
            seen = len(acked)
            wait_for(lambda: len(acked) >= seen + 200, 60, "messages acknowledged after the last restart")
        finally:
            stop.set()
            sender.join()
            producer.close()
        held = held_messages(broker.address, topics)
        missing = [m for m in acked if not held[m]]
        assert not missing, f"{len(missing)} of {len(acked)} acknowledged messages lost: {missing[:5]}"


def held_messages(address: str, topics: tuple[str, ...]) -> Counter:
    """(topic, value) of every message the topics hold, counted."""
    held: Counter = Counter()
    ends = {t: bus.high_watermarks(address, t) for t in topics}
    consumer = KafkaConsumer(bootstrap_servers=address, enable_auto_commit=False, group_id=None)
    try:
        for topic in topics:
            for partition, end in ends[topic].items():
                tp = TopicPartition(topic, partition)
                consumer.assign([tp])
                consumer.seek_to_beginning(tp)
                idle = 0
                while consumer.position(tp) < end and idle < 30:  # a gap in the log: not read forever
                    records = consumer.poll(timeout_ms=1000).get(tp, [])
                    idle = 0 if records else idle + 1
                    for record in records:
                        held[(topic, record.value)] += 1
    finally:
        consumer.close()
    return held
