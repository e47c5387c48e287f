"""Scoring on a small case computed by hand."""

from __future__ import annotations

import pytest

from cryptoviz.models.signals import Signal
from cryptoviz.scoring import SCORED, Scoreboard, bucket_of, metrics

H = {"1h": 3600.0}


def preds(value: float, base: float) -> dict:
    return {"1h": {m: (base if m == "persistence" else value) for m in SCORED}}


def sig(move_pct: float, conf: float) -> dict:
    return {"1h": Signal("HOLD", conf, 1.0, conf, move_pct, "1h")}


def test_hand_computed_errors_and_hit_rate():
    board = Scoreboard(H)
    board.record(0, 100.0, preds(110.0, 100.0), sig(10, 0.9))  # predicts up; actual 120: error 10, right
    board.record(1800, 100.0, preds(90.0, 100.0), sig(-10, 0.5))  # predicts down; actual 105: error 15, wrong
    assert board.on_tick(3600, 120.0) == 1
    assert board.on_tick(5400, 105.0) == 1
    s = board.summary()["1h"]
    assert s["consensus"]["n"] == 2
    assert s["consensus"]["mae"] == pytest.approx(12.5)
    assert s["consensus"]["mape"] == pytest.approx((10 / 120 + 15 / 105) / 2 * 100)
    assert s["consensus"]["hit_rate"] == 0.5
    assert s["persistence"]["mae"] == pytest.approx((20 + 5) / 2) and s["persistence"]["hit_rate"] is None
    assert s["signals"]["0.8-1.0"] == {"n": 1, "hit_rate": 1.0, "mean_return_pct": pytest.approx(20.0)}
    assert s["signals"]["0.4-0.6"]["hit_rate"] == 0.0


def test_predictions_are_scored_once_and_gaps_expire():
    board = Scoreboard(H)
    board.record(0, 100.0, preds(101.0, 100.0), sig(1, 0.5))
    assert board.on_tick(1000, 100.0) == 0, "not due yet"
    assert board.on_tick(3600 + 3600, 100.0) == 0, "two hours late: expired, not scored"
    assert board.summary()["1h"]["expired"] == 1 and board.on_tick(99999, 1.0) == 0


def test_state_round_trip():
    board = Scoreboard(H)
    board.record(0, 100.0, preds(101.0, 100.0), sig(1, 0.5))
    again = Scoreboard.from_state(board.to_state(), H)
    assert again.on_tick(3600, 102.0) == 1 and again.summary()["1h"]["consensus"]["mae"] == 1


def test_metrics_refuse_empty_input_and_buckets():
    with pytest.raises(ValueError):
        metrics(n=0, sum_abs_err=0, sum_abs_pct_err=0, n_direction=0, hits=0)
    assert [bucket_of(c) for c in (0, 0.19, 0.2, 0.7, 0.99, 1.0)] == [0, 0, 1, 3, 4, 4]
