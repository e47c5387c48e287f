"""The monitor reads the broker only while the topics page is watched: the schedule and the pass."""

from __future__ import annotations

from typing import Any, cast

import pytest
import redis

from cryptoviz import names
from cryptoviz.monitor import app, watch
from cryptoviz.monitor.watch import TopicsSchedule
from cryptoviz.telemetry import Telemetry


def test_nobody_watching_skips_one_reading_per_interval_and_never_reads():
    s = TopicsSchedule(10)
    seen = [s.decide(t, watched=False) for t in (0, 2, 4, 9.9, 10, 12, 20)]
    assert seen == ["skip", "wait", "wait", "wait", "skip", "wait", "skip"]


def test_a_first_view_reads_at_the_next_pass_then_every_interval():
    s = TopicsSchedule(10)
    assert s.decide(0, watched=False) == "skip"
    assert s.decide(4, watched=True) == "look", "watching starts: read at once"
    seen = [s.decide(t, watched=True) for t in (6, 13.9, 14, 20, 24)]
    assert seen == ["wait", "wait", "look", "wait", "look"]


def test_a_view_soon_after_the_last_reading_waits_for_the_interval():
    s = TopicsSchedule(10)
    assert s.decide(0, watched=True) == "look"
    assert s.decide(3, watched=False) == "wait", "the reading is not due yet: nothing skipped either"
    assert s.decide(10, watched=False) == "skip"
    assert s.decide(12, watched=True) == "look", "a reading 12 s old: read again at once"


def test_the_mark_lasts_a_few_of_the_pages_refreshes():
    assert watch.watch_ttl_s(10) == 30
    assert watch.watch_ttl_s(1) == watch.WATCH_MIN_TTL_S
    assert watch.watch_ttl_s(60.5) == 182


class Client:
    """The one Redis call the pass makes."""

    def __init__(self, watched: bool | None) -> None:
        self.watched = watched

    def exists(self, key: str) -> int:
        assert key == names.TOPICS_WATCHED
        if self.watched is None:
            raise redis.ConnectionError("down")
        return int(self.watched)


class Inspector:
    def __init__(self) -> None:
        self.started = 0

    def busy(self) -> bool:
        return False

    def start(self) -> None:
        self.started += 1


def run_pass(client: Client, schedule: TopicsSchedule, inspector: Inspector, telemetry: Telemetry) -> None:
    app.inspect_if_watched(cast(Any, client), schedule, cast(Any, inspector), telemetry)


def test_the_pass_counts_skips_says_why_and_reads_once_watched(monkeypatch: pytest.MonkeyPatch):
    clock = [100.0]
    monkeypatch.setattr(app.time, "monotonic", lambda: clock[0])
    client, schedule, inspector = Client(False), TopicsSchedule(10), Inspector()
    telemetry = Telemetry("monitor", None, instance="t")
    for _ in range(6):  # 12 s of passes, nobody watching
        run_pass(client, schedule, inspector, telemetry)
        clock[0] += 2
    assert inspector.started == 0 and telemetry.counters["topics_skipped.unwatched"] == 2
    assert telemetry.gauges["topics_watched"] == 0
    assert telemetry.gauges["topics_report"] == "not read: nobody has the topics page open"
    client.watched = True
    run_pass(client, schedule, inspector, telemetry)
    assert inspector.started == 1 and telemetry.gauges["topics_watched"] == 1
    assert telemetry.gauges["topics_report"] == "read every 10 s: the topics page is open"
    client.watched = None  # Redis down: counted, nothing read, nothing skipped
    clock[0] += 10
    run_pass(client, schedule, inspector, telemetry)
    assert inspector.started == 1 and telemetry.counters["errors.redis"] == 1
    assert telemetry.counters["topics_skipped.unwatched"] == 2
