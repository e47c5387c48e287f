"""BUY / SELL / HOLD from P(up), the forecast's move and the fee."""

from __future__ import annotations

import dataclasses

import pytest

from cryptoviz.models.signals import decide

W = (0.4, 0.4, 0.2)


def test_a_probable_rise_larger_than_the_fee_is_a_buy():
    s = decide(100.0, 100.2, 0.6, 0.55, 10, "1h", (101, 101, 99), W)
    assert s.action == "BUY" and s.confidence == 0.6 and s.p_up == 0.6
    assert s.move_pct == pytest.approx(0.2) and s.agreement == pytest.approx(0.8)


def test_a_probable_fall_larger_than_the_fee_is_a_sell():
    s = decide(100.0, 99.8, 0.4, 0.55, 10, "1h")
    assert s.action == "SELL" and s.confidence == pytest.approx(0.6) and s.direction == -1


def test_a_move_within_the_fee_holds_however_probable():
    assert decide(100.0, 100.05, 0.9, 0.55, 10, "1h").action == "HOLD"  # 5 bps < 10 bps
    assert decide(100.0, 100.05, 0.9, 0.55, 0, "1h").action == "BUY"


def test_a_probability_below_the_threshold_holds():
    s = decide(100.0, 101.0, 0.54, 0.55, 10, "1h")
    assert s.action == "HOLD" and s.confidence == 0.54 and s.direction == 0


def test_probability_and_move_must_agree():
    assert decide(100.0, 99.0, 0.6, 0.55, 10, "1h").action == "HOLD"  # likely up, forecast down


def test_the_dict_of_a_signal_has_every_field():
    s = decide(100.0, 100.2, 0.6, 0.55, 10, "1h", (101, 101, 99), W)
    assert s.to_dict() == dataclasses.asdict(s)  # written by hand for speed: a new field must be in it
