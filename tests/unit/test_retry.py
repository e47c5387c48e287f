"""retry: the one loop that waits for a server (backoff, attempts, Retry-After, the stop signal)."""

from __future__ import annotations

import random

import pytest

from cryptoviz.retry import Backoff, Stopped, retry


class Flaky:
    def __init__(self, failures: int, exc: type[Exception] = ConnectionError) -> None:
        self.failures = failures
        self.exc = exc
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.exc(f"failure {self.calls}")
        return "done"


def waits(record: list[float], stop_at: int | None = None):
    def wait(seconds: float) -> bool:
        record.append(seconds)
        return stop_at is not None and len(record) >= stop_at

    return wait


def test_retries_until_it_works_with_growing_jittered_delays():
    delays: list[float] = []
    seen: list[int] = []
    fn = Flaky(4)
    backoff = Backoff(base_s=1, cap_s=5, rng=random.Random(7))
    result = retry(
        fn,
        retry_on=(ConnectionError,),
        backoff=backoff,
        wait=waits(delays),
        on_failure=lambda n, e, d: seen.append(n),
    )
    assert result == "done" and fn.calls == 5 and seen == [1, 2, 3, 4]
    for failures, delay in enumerate(delays, start=1):
        ceiling = min(5, 2 ** (failures - 1))
        assert ceiling / 2 <= delay <= ceiling


def test_the_last_failure_is_raised_after_the_attempts():
    fn = Flaky(10)
    with pytest.raises(ConnectionError, match="failure 3"):
        retry(fn, retry_on=(ConnectionError,), backoff=Backoff(0.01, 0.01), wait=waits([]), attempts=3)
    assert fn.calls == 3


def test_a_stop_while_waiting_raises_stopped_and_tries_no_more():
    fn = Flaky(10)
    with pytest.raises(Stopped):
        retry(fn, retry_on=(ConnectionError,), backoff=Backoff(0.01, 0.01), wait=waits([], stop_at=2))
    assert fn.calls == 2


def test_other_errors_are_not_retried():
    fn = Flaky(1, exc=ValueError)
    with pytest.raises(ValueError):
        retry(fn, retry_on=(ConnectionError,), backoff=Backoff(), wait=waits([]))
    assert fn.calls == 1


def test_a_longer_retry_after_wins():
    delays: list[float] = []
    retry(
        Flaky(1),
        retry_on=(ConnectionError,),
        backoff=Backoff(base_s=1, cap_s=2),
        wait=waits(delays),
        retry_after=lambda exc: 30.0,
    )
    assert delays == [30.0]


def test_the_delay_stays_at_the_cap_after_any_number_of_failures():
    """A service down for days (the supervisor restarting it every minute, a stream reconnecting)
    fails more than a thousand times: base * 2^1024 is past a float's range."""
    backoff = Backoff(base_s=1.0, cap_s=60.0, rng=random.Random(7))
    for failures in (11, 1025, 10**6):
        assert backoff.ceiling(failures) == 60
        assert 30 <= backoff.delay(failures) <= 60
