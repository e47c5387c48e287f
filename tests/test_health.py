"""service_state: the one staleness rule (up, stale, down) from a heartbeat's age and interval."""

from __future__ import annotations

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
