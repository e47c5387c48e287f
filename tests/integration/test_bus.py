"""Group membership and the consumer's fetch wait, against the real broker."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from kafka import TopicPartition

from cryptoviz import bus
from cryptoviz.testing.harness import wait_for
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
