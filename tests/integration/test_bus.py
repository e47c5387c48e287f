"""Group membership against the real broker."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

from kafka import KafkaConsumer, TopicPartition

from cryptoviz import bus
from cryptoviz.testing.harness import wait_for

PARTITIONS = 2


class Member:
    """A group member polling in a thread of its own, as each processor does in its process."""

    def __init__(self, bootstrap: str, topic: str, group: str) -> None:
        self.consumer = bus.consumer(bootstrap, topic, group_id=group)
        self.stopping = threading.Event()
        self.closed = threading.Event()
        self.close: Callable[[KafkaConsumer], None] = lambda c: bus.close_consumer(c, 2000)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopping.is_set():
            self.consumer.poll(timeout_ms=100)
        self.close(self.consumer)
        self.closed.set()

    def assigned(self) -> set[TopicPartition]:
        return set() if self.stopping.is_set() else set(self.consumer.assignment())

    def stop(self) -> None:
        self.stopping.set()
        assert self.closed.wait(30), "the member did not close"


def own_every_partition(*members: Member) -> Callable[[], bool]:
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
    everyone: list[Member] = []
    try:
        pairs = []
        for group in groups:
            pairs.append([Member(bootstrap, topic, group), Member(bootstrap, topic, group)])
            everyone += pairs[-1]
        for pair in pairs:
            wait_for(own_every_partition(*pair), 60, "two members sharing the partitions")
        for first, second in (pairs[0], pairs[1][::-1]):
            first.stop()
            second.stop()
        newcomers = [Member(bootstrap, topic, g) for g in groups]
        everyone += newcomers
        # the stopped members expire after the session timeout (6 s), then one rebalance
        for newcomer in newcomers:
            wait_for(own_every_partition(newcomer), 90, "the new member to own every partition")
    finally:
        for m in everyone:
            if not m.stopping.is_set():
                m.stop()
