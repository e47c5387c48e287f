"""Whether anyone looks at the topics page, and so whether the monitor reads the broker.

The topics report's only reader is the dashboard's topics page, and reading every topic's offsets,
the groups and the newest messages through the broker costs the broker and its storage as much as
the monitor. So the page marks itself watched in Redis each time it renders (`mark_watched`, a key
that expires), and the monitor reads the broker every TOPICS_INTERVAL_S only while the mark is
there (`TopicsSchedule`). A first view finds no mark set before it: the monitor reads the broker at
its next pass, so the page waits a pass or two for its first reading.
"""

from __future__ import annotations

import math
import time
from typing import Literal

import redis

from cryptoviz import names

# The mark outlives this many of the page's refreshes: a refresh late by a few seconds (a loaded
# machine, a throttled background tab) does not stop the readings under an open page.
WATCH_REFRESHES = 3
WATCH_MIN_TTL_S = 30

Decision = Literal["look", "skip", "wait"]


def watch_ttl_s(refresh_s: float) -> int:
    """How long one render of the page marks it watched, for a page that renders every `refresh_s`."""
    return max(WATCH_MIN_TTL_S, math.ceil(WATCH_REFRESHES * refresh_s))


def mark_watched(client: redis.Redis, ttl_s: int) -> None:
    """The topics page is being looked at: the monitor reads the broker for the next `ttl_s` s."""
    client.set(names.TOPICS_WATCHED, int(time.time()), ex=ttl_s)


def is_watched(client: redis.Redis) -> bool:
    return bool(client.exists(names.TOPICS_WATCHED))


class TopicsSchedule:
    """When the monitor reads the broker: every `interval_s` while the page is watched, at once when
    watching starts (unless the last reading is younger than `interval_s`), never while nobody
    watches. Each `interval_s` without a reading because nobody watches counts as one skip."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.next_look = 0.0  # monotonic: the earliest time of the next reading
        self.next_skip = 0.0  # monotonic: the earliest time the next skip is counted
        self.watched: bool | None = None  # None: not known yet (the monitor just started)

    def due(self, now: float) -> bool:
        """Whether a reading (or a skip) could be due: only then is the mark worth a look."""
        return now >= self.next_look

    def decide(self, now: float, watched: bool) -> Decision:
        """'look' (read the broker now), 'skip' (nobody watches: count it) or 'wait'."""
        if now < self.next_look:
            return "wait"
        if watched:
            self.next_look = now + self.interval_s
            return "look"
        if now < self.next_skip:
            return "wait"
        self.next_skip = now + self.interval_s
        return "skip"

    def change(self, watched: bool) -> bool:
        """Record whether the page is watched; True when that changed (or is first known)."""
        changed = watched != self.watched
        self.watched = watched
        return changed
