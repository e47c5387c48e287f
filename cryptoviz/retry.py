"""Waiting for a server, one way: exponential backoff with full jitter (a server's Retry-After wins
when it is longer), and one retry loop that looks at the stop signal while it waits."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

T = TypeVar("T")


class Stopped(Exception):
    """Asked to stop while waiting to try again: the work was not done."""


@dataclass
class Backoff:
    base_s: float = 2.0
    cap_s: float = 300.0
    rng: random.Random = field(default_factory=random.Random)

    def ceiling(self, failures: int) -> float:
        """base, doubling per failure, at most cap: the delay before jitter. The doubling stops at
        2^64: a float of base * 2^1024 overflows, and a service down for days fails that often."""
        return min(self.cap_s, self.base_s * 2.0 ** min(max(0, failures - 1), 64))

    def delay(self, failures: int, retry_after: float | None = None) -> float:
        exp = self.ceiling(failures)
        jittered = self.rng.uniform(exp / 2, exp)
        return max(jittered, retry_after or 0.0)


def sleep_unstoppable(seconds: float) -> bool:
    """A wait nothing interrupts (command-line tools, where Ctrl-C raises anyway)."""
    time.sleep(seconds)
    return False


def retry(
    fn: Callable[[], T],
    *,
    retry_on: tuple[type[Exception], ...],
    backoff: Backoff,
    wait: Callable[[float], bool] = sleep_unstoppable,
    attempts: int | None = None,
    retry_after: Callable[[Exception], float | None] | None = None,
    on_failure: Callable[[int, Exception, float], None] | None = None,
) -> T:
    """fn() until it returns. After a failure of a kind in `retry_on`: on_failure(failures, error,
    delay), then wait(delay), which returns True when the service is asked to stop (Stop.wait does):
    Stopped is raised then. With `attempts`, the last failure is raised as it is."""
    failures = 0
    while True:
        try:
            return fn()
        except retry_on as exc:
            failures += 1
            if attempts is not None and failures >= attempts:
                raise
            delay = backoff.delay(failures, retry_after(exc) if retry_after else None)
            if on_failure:
                on_failure(failures, exc, delay)
            if wait(delay):
                raise Stopped(repr(exc)) from exc


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After is either seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
