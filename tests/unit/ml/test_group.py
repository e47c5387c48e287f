"""The processor's pace while the stream is quiet: `idle_pause`, `Processor.run` waiting it, and
telling when its polls stop and start bringing quotes."""

from __future__ import annotations

import time
import types

import pytest

from cryptoviz.ml import processor as processor_module
from cryptoviz.ml.group import IDLE_AFTER_S, IDLE_POLL_MS, idle_pause
from cryptoviz.ml.processor import POLL_TIMEOUT_MS
from cryptoviz.service import Stop
from cryptoviz.testing.doubles import ListConsumer, MemoryStore

from .test_processor import hours, processor


def test_no_pause_until_the_stream_has_been_quiet_for_a_while():
    assert idle_pause(0.0, 0.4) == 0.0
    assert idle_pause(IDLE_AFTER_S - 0.01, 0.4) == 0.0
    assert idle_pause(IDLE_AFTER_S, 0.4) == 0.4
    assert idle_pause(3600.0, 0.4) == 0.4
    assert idle_pause(3600.0, 0.0) == 0.0  # 0: never


class _SecondPauseStops(Stop):
    """Records the loop's waits; the second one ends the run."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        if len(self.waits) == 2:
            self.set()
        return bool(self)


def test_run_polls_without_pause_while_records_come_then_pauses_between_single_fetches(
    monkeypatch: pytest.MonkeyPatch,
):
    clock = iter(range(10**6))  # each reading of the loop's clock is a second later
    fake = types.SimpleNamespace(
        monotonic=lambda: float(next(clock)), perf_counter=time.perf_counter, time=time.time
    )
    monkeypatch.setattr(processor_module, "time", fake)
    store = MemoryStore()
    consumer = ListConsumer(hours("BTC", 30))
    proc = processor(consumer, store, max_records=10)
    proc.idle_wait_s = 0.4
    timeouts: list[int] = []
    step = proc.step

    def noted_step(timeout_ms: int) -> int:
        timeouts.append(timeout_ms)
        return step(timeout_ms)

    monkeypatch.setattr(proc, "step", noted_step)
    stop = _SecondPauseStops()
    proc.run(stop)
    assert stop.waits == [0.4, 0.4]  # none while the three batches came; once quiet, between polls
    assert (
        timeouts[:4] == [POLL_TIMEOUT_MS] * 4 and timeouts[-1] == IDLE_POLL_MS
    )  # after a pause, a short poll
    assert store.load("BTC") is not None and consumer.committed[next(iter(consumer.logs))] == 30


class _QuotesComeAgain(Stop):
    """At the first pause more quotes arrive; the second pause ends the run."""

    def __init__(self, consumer: ListConsumer) -> None:
        super().__init__()
        self.consumer, self.waits = consumer, 0

    def wait(self, seconds: float) -> bool:
        self.waits += 1
        if self.waits == 1:
            for rec in hours("ETH", 3, partition=1):
                self.consumer.append(rec)
        else:
            self.set()
        return bool(self)


def test_run_tells_when_a_poll_brings_no_quote_and_when_quotes_come_again(monkeypatch: pytest.MonkeyPatch):
    """What the service sets its fetch wait by: once per change, not at every poll (it starts busy)."""
    clock = iter(range(10**6))
    fake = types.SimpleNamespace(
        monotonic=lambda: float(next(clock)), perf_counter=time.perf_counter, time=time.time
    )
    monkeypatch.setattr(processor_module, "time", fake)
    consumer = ListConsumer(hours("BTC", 30))
    proc = processor(consumer, MemoryStore(), max_records=10)
    proc.idle_wait_s = 0.4
    told: list[bool] = []
    proc.on_busy = told.append
    proc.run(_QuotesComeAgain(consumer))
    assert told == [False, True, False]
    assert sorted(consumer.committed.values()) == [3, 30]  # both spells' quotes went through
