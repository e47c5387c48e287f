"""service_state: the one staleness rule (up, stale, down) from a heartbeat's age and interval."""

from __future__ import annotations

from cryptoviz.contracts import Heartbeat
from cryptoviz.health import service_state


def doc(age_s: float, interval_s: float = 5.0, state: str = "running") -> tuple[dict, float]:
    now = 1_000_000.0
    return {"heartbeat_ts": now - age_s, "interval_s": interval_s, "state": state}, now


def test_a_recent_heartbeat_is_up():
    assert service_state(*doc(4.0)) == "up"
    assert service_state(*doc(20.0)) == "up"  # 3 beats of 5 s plus 5 s of grace


def test_three_missed_beats_and_the_grace_make_it_stale():
    assert service_state(*doc(20.5)) == "stale"
    assert service_state(*doc(90.0)) == "stale"  # 12 beats plus 30 s


def test_long_silence_or_a_clean_stop_is_down():
    assert service_state(*doc(90.5)) == "down"
    assert service_state(*doc(1.0, state="stopped")) == "down"


def test_the_rule_scales_with_the_service_interval():
    assert service_state(*doc(8.0, interval_s=1.0)) == "up"
    assert service_state(*doc(8.5, interval_s=1.0)) == "stale"
    assert service_state(*doc(42.5, interval_s=1.0)) == "down"


def heartbeat(service: str, instance: str, state: str, started: float, beat: float) -> Heartbeat:
    return {
        "service": service,
        "instance": instance,
        "state": state,
        "heartbeat_ts": beat,
        "started_ts": started,
        "interval_s": 5.0,
        "counters": {},
        "gauges": {},
    }


def test_an_instance_replaced_by_a_later_one_is_no_longer_counted():
    from cryptoviz.health import current_instances

    now = 10_000.0
    old = heartbeat("scraper", "a", state="stopped", started=1000.0, beat=2000.0)
    new = heartbeat("scraper", "b", state="running", started=3000.0, beat=now - 1)
    crashed_alone = heartbeat("ml-processor", "c", state="running", started=1000.0, beat=2000.0)
    kept, replaced = current_instances([old, new, crashed_alone], now)
    assert [d["instance"] for d in kept] == ["b", "c"] and replaced == 1  # a lone dead one still shows
    scaled = [new, heartbeat("scraper", "d", state="running", started=3500.0, beat=now - 1)]
    assert current_instances(scaled, now) == (scaled, 0)  # two live instances both count
