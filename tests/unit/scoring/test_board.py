"""The scoreboard on small cases computed by hand: errors, skill, intervals, P(up), signals, gaps."""

from __future__ import annotations

import random

import pytest

from cryptoviz.models.forecaster import Forecast
from cryptoviz.scoring import SCORED, Scoreboard, metrics
from cryptoviz.scoring.board import HorizonScore

H = {"1h": 3600.0}


def preds(value: float, base: float) -> dict:
    return {"1h": {m: (base if m == "persistence" else value) for m in SCORED}}


def forecast(point: float, i80: tuple, i90: tuple, p_up: float, regime: int) -> dict:
    fc = Forecast(point, {"80": i80, "90": i90}, p_up, p_up, regime, 0.01, (0.0, 0.0, 0.0), 0.0, 0.0)
    return {"1h": fc}


def two_scored() -> Scoreboard:
    board = Scoreboard(H, fee_bps=10)
    # predicts 110 (up), BUY, P(up) 0.7; actual 120: the 80 % interval misses by 5, the 90 % holds
    board.record(0, 100.0, preds(110.0, 100.0), {"1h": 1}, forecast(110, (95, 115), (90, 125), 0.7, 2))
    # predicts 90 (down), SELL, P(up) 0.4; actual 105: both intervals hold, the SELL is wrong
    board.record(1800, 100.0, preds(90.0, 100.0), {"1h": -1}, forecast(90, (95, 105), (92, 108), 0.4, 0))
    assert board.on_tick(3600, 120.0) == 1
    assert board.on_tick(5400, 105.0) == 1
    return board


def test_hand_computed_errors_and_hit_rate():
    s = two_scored().summary()["1h"]
    assert s["consensus"]["n"] == 2
    assert s["consensus"]["mae"] == pytest.approx(12.5)
    assert s["consensus"]["mape"] == pytest.approx((10 / 120 + 15 / 105) / 2 * 100)
    assert s["consensus"]["hit_rate"] == 0.5
    # Wilson of 1 hit in 2 outcomes that fell in one hour: one independent outcome's worth
    assert s["consensus"]["hit_rate_ci"] == pytest.approx([0.0546, 0.9454], abs=1e-4)
    assert s["persistence"]["mae"] == pytest.approx((20 + 5) / 2) and s["persistence"]["hit_rate"] is None
    assert s["always_up"]["n"] == 2 and s["always_up"]["hit_rate"] == 1.0


def test_skill_is_one_minus_mape_over_persistences():
    s = two_scored().summary()["1h"]
    d = [20 / 120 * 100 - 10 / 120 * 100, 5 / 105 * 100 - 15 / 105 * 100]
    mape_p = (20 / 120 + 5 / 105) / 2 * 100
    assert s["skill"]["consensus"]["skill"] == pytest.approx(sum(d) / 2 / mape_p)
    assert s["skill"]["consensus"]["n"] == 2 and s["skill"]["consensus"]["t_stat"] is None  # too few
    assert "persistence" not in s["skill"]


def test_intervals_coverage_width_and_interval_score():
    s = two_scored().summary()["1h"]["intervals"]
    assert s["80"]["coverage"] == 0.5 and s["80"]["n"] == 2
    assert s["80"]["mean_width_pct"] == pytest.approx((20 + 10) / 2)
    # Winkler: width + 2/alpha x the miss; 20 + 10 x 5 for the first, 10 for the second (in % of 100)
    assert s["80"]["interval_score"] == pytest.approx((70 + 10) / 2)
    assert s["90"]["coverage"] == 1.0
    assert s["80"]["by_regime"]["high"] == {"coverage": 0.0, "n": 1}
    assert s["80"]["by_regime"]["low"] == {"coverage": 1.0, "n": 1}
    assert s["80"]["by_regime"]["mid"] == {"coverage": None, "n": 0}


def test_p_up_brier_against_the_base_rate_known_when_forecast():
    board = two_scored()
    s = board.summary()["1h"]["p_up"]
    assert s["brier"] == pytest.approx(((0.7 - 1) ** 2 + (0.4 - 1) ** 2) / 2)
    assert s["brier_base_rate"] == pytest.approx(0.25)  # nothing had settled when either was made
    rel = {b["bin"]: b for b in s["reliability"]}
    assert rel["0.7-0.8"] == {"bin": "0.7-0.8", "n": 1, "p_mean": 0.7, "observed": 1.0}
    board.record(6000, 105.0, preds(105.0, 105.0), {}, {})
    assert board.pending["1h"][-1][3] == 1.0  # both settled outcomes were up


def test_signals_are_positions_scored_once_net_of_the_fee():
    # the BUY at 100 is closed by the SELL at 1800 (at 100: no gain, the fee lost); the SELL is
    # held to its horizon and closed by the tick at 5400, at 105 (a loss of 5 %)
    board = two_scored()
    assert board.summary()["1h"]["signals"]["n"] == 1
    board.record(5400, 105.0, preds(105.0, 105.0), {}, {})
    s = board.summary()["1h"]["signals"]
    assert s["n"] == 2 and s["hit_rate"] == 0.0 and s["fee_bps"] == 10
    assert s["mean_net_return_pct"] == pytest.approx(((0 - 0.1) + (-5 - 0.1)) / 2)


def test_a_position_that_gains_less_than_the_fee_is_no_hit():
    board = Scoreboard(H, fee_bps=10)
    board.record(0, 100.0, preds(100.0, 100.0), {"1h": 1}, {})  # BUY at 100
    board.on_tick(3600, 100.05)  # up 0.05 %, the fee 0.1 %: a loss once it is paid
    board.record(3600, 100.05, preds(100.05, 100.05), {}, {})
    s = board.summary()["1h"]["signals"]
    assert s["n"] == 1 and s["hit_rate"] == 0.0
    assert s["mean_net_return_pct"] == pytest.approx(0.05 - 0.1)


def test_a_run_of_identical_signals_is_one_position_at_any_cadence():
    """A BUY every minute for two hours, then HOLD: one position from the first BUY to an hour after
    the last, scored once, as one BUY an hour would be; the fee is paid once."""
    for step in (60.0, 3600.0):
        board = Scoreboard(H, fee_bps=10)
        t, price = 0.0, 100.0
        while t <= 7200:
            board.on_tick(t, price)
            board.record(t, price, preds(price, price), {"1h": 1}, {})
            t, price = t + step, price + step / 3600
        while t <= 7200 + 3600:
            board.on_tick(t, price)
            board.record(t, price, preds(price, price), {}, {})
            t += step
        s = board.summary()["1h"]["signals"]
        assert s["n"] == 1 and s["hit_rate"] == 1.0, step
        assert s["mean_net_return_pct"] == pytest.approx(price - 100 - 0.1), step


def test_a_position_across_a_gap_is_dropped_unscored():
    board = Scoreboard(H, fee_bps=10)
    board.record(0, 100.0, preds(100.0, 100.0), {"1h": 1}, {})
    board.on_tick(3600 * 3, 120.0)  # two hours past its exit: the data has a gap there
    board.record(3600 * 3, 120.0, preds(120.0, 120.0), {}, {})
    assert board.summary()["1h"]["signals"]["n"] == 0 and board.scores["1h"].position[0] == 0


def test_predictions_are_scored_once_and_gaps_expire():
    board = Scoreboard(H)
    board.record(0, 100.0, preds(101.0, 100.0), {}, {})
    assert board.on_tick(1000, 100.0) == 0, "not due yet"
    assert board.on_tick(3600 + 3600, 100.0) == 0, "two hours late: expired, not scored"
    assert board.summary()["1h"]["expired"] == 1 and board.on_tick(99999, 1.0) == 0


def test_settled_forecasts_are_handed_back_for_learning():
    board = Scoreboard(H)
    board.record(0, 100.0, preds(101.0, 100.0), {}, forecast(101, (99, 103), (98, 104), 0.6, 1))
    board.on_tick(3600, 102.0)
    assert [(h, due, base, fc.p_up) for h, due, base, fc in board.settled] == [("1h", 3600, 100.0, 0.6)]
    board.on_tick(3700, 102.0)
    assert board.settled == []


def test_volatility_forecast_r2_against_the_mean_of_earlier_moves():
    board = Scoreboard(H)
    board.score_moves([("1h", 1.0, 2.0), ("1h", 1.5, 1.0), ("1h", 2.0, 3.0)])
    m = board.summary()["volatility"]["1h"]
    sse = (1.0 - 1.5) ** 2 + (3.0 - 2.0) ** 2
    sse_constant = (1.0 - 2.0) ** 2 + (3.0 - 1.5) ** 2
    assert m["r2"] == pytest.approx(1 - sse / sse_constant) and m["n"] == 2


def test_state_round_trip():
    board = two_scored()
    board.record(6000, 105.0, preds(106.0, 105.0), {"1h": 1}, forecast(106, (104, 107), (103, 108), 0.6, 1))
    again = Scoreboard.from_state(board.to_state(), H, fee_bps=10)
    assert again.summary() == board.summary()
    assert again.on_tick(9600, 106.0) == board.on_tick(9600, 106.0) == 1
    assert again.summary() == board.summary()


def test_metrics_refuse_empty_input():
    with pytest.raises(ValueError):
        metrics(n=0, sum_abs_err=0, sum_abs_pct_err=0, n_direction=0, hits=0)


def test_a_horizon_score_from_its_state_summarises_as_the_original():
    board = two_scored()
    for h, score in board.scores.items():
        restored = HorizonScore.from_state(score.to_state())
        assert restored.summary(board.fee_bps) == score.summary(board.fee_bps), h
        assert restored.to_state() == score.to_state()


@pytest.mark.parametrize(
    ("horizon_s", "every_s", "share"),
    [(3600.0, 3600.0, 1.0), (6 * 3600.0, 3600.0, 1 / 6), (3600.0, 60.0, 1 / 60)],
)
def test_overlapping_outcomes_count_once_per_horizon_in_the_hit_rates_interval(horizon_s, every_s, share):
    """Hourly 1 h outcomes are independent; hourly 6 h ones share five hours of six, minute 1 h
    ones 59 minutes of 60: the interval is a Wilson interval over the independent ones."""
    from cryptoviz.scoring.stats import wilson

    board = Scoreboard({"h": horizon_s}, fee_bps=10)
    rng = random.Random(3)
    price = 100.0
    for k in range(int(48 * 3600 / every_s)):  # a random walk; every model says up
        t, price = k * every_s, price * (1 + rng.gauss(0, 0.001))
        board.on_tick(t, price)
        board.record(t, price, {"h": {m: price + 1 for m in SCORED}}, {"h": 0}, {})
    s = board.summary()["h"]
    n, hits = s["consensus"]["n_direction"], round(s["consensus"]["hit_rate"] * s["consensus"]["n_direction"])
    assert board.scores["h"].independent() == pytest.approx(share, rel=0.05)
    assert s["consensus"]["hit_rate_ci"] == pytest.approx(list(wilson(hits * share, n * share)), rel=0.02)
    assert s["always_up"]["hit_rate_ci"] is not None
