"""A consumer-group member polling in a thread of its own, as each ML processor does in its
process: for the tests and the bench of group membership on the real broker."""

from __future__ import annotations

import threading

from kafka import TopicPartition

from cryptoviz import bus

CLOSE_TIMEOUT_MS = 2000


class GroupMember:
    """Joins `group` on `topic` at once. `leave`: close with kafka-python's own close, which sends
    LeaveGroup, instead of `bus.close_consumer`, which does not."""

    def __init__(self, bootstrap: str, topic: str, group: str, leave: bool = False) -> None:
        self.consumer = bus.consumer(bootstrap, topic, group_id=group)
        self.leave = leave
        self.stopping = threading.Event()
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopping.is_set():
            self.consumer.poll(timeout_ms=100)
        if self.leave:
            self.consumer.close(autocommit=False, timeout_ms=CLOSE_TIMEOUT_MS)
        else:
            bus.close_consumer(self.consumer, CLOSE_TIMEOUT_MS)
        self.closed.set()

    def assigned(self) -> set[TopicPartition]:
        return set() if self.stopping.is_set() else set(self.consumer.assignment())

    def stop(self) -> None:
        self.stopping.set()
        assert self.closed.wait(30), "the member did not close"


def stop_all(members: list[GroupMember]) -> None:
    """Signal every member, then wait for each: they stop at once, as `docker compose restart` does."""
    for m in members:
        m.stopping.set()
    for m in members:
        m.stop()
