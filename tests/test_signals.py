from __future__ import annotations

import math

import pytest

from cryptoviz.models.signals import decide

W = (0.4, 0.4, 0.2)


def test_all_models_agree_on_a_large_move_gives_buy():
    s = decide(100.0, (103, 104, 105), W, 103.8, hourly_volatility=0.01, horizon_s=3600, threshold=0.7)
    assert s.action == "BUY" and s.agreement == 1.0
    assert s.confidence == pytest.approx(1 - math.exp(-3.8), abs=1e-4)


def test_disagreement_lowers_confidence_below_threshold():
    s = decide(100.0, (103, 97, 105), W, 101.4, hourly_volatility=0.01, horizon_s=3600, threshold=0.7)
    assert s.agreement == pytest.approx(0.6) and s.action == "HOLD"


def test_small_move_relative_to_volatility_is_hold_and_sell_when_strong():
    weak = decide(100.0, (99.9, 99.8, 99.9), W, 99.86, hourly_volatility=0.02, horizon_s=3600, threshold=0.7)
    strong = decide(100.0, (95, 96, 94), W, 95.2, hourly_volatility=0.01, horizon_s=3600, threshold=0.7)
    assert weak.action == "HOLD" and weak.confidence < 0.1
    assert strong.action == "SELL" and strong.confidence > 0.9


def test_confidence_varies_with_inputs_and_is_zero_without_volatility():
    values = {
        decide(100.0, (100 + d, 100 + d, 100 + d), W, 100 + d, 0.01, 3600, 0.7).confidence
        for d in (0.1, 0.5, 1, 2)
    }
    assert len(values) == 4 and all(0 <= v <= 1 for v in values)
    assert decide(100.0, (101, 101, 101), W, 101, None, 3600, 0.7).confidence == 0


def test_longer_horizon_needs_a_larger_move_for_the_same_strength():
    h1 = decide(100.0, (102, 102, 102), W, 102, 0.01, 3600, 0.7)
    h6 = decide(100.0, (102, 102, 102), W, 102, 0.01, 6 * 3600, 0.7)
    assert h6.strength < h1.strength
