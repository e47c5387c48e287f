"""Each model against a plain numpy reference, on real prices and on hand-made series."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from cryptoviz.models import HOUR
from cryptoviz.models.consensus import consensus
from cryptoviz.models.engine import ModelConfig, SymbolModel
from cryptoviz.models.linear_trend import LinearTrend
from cryptoviz.models.momentum import Momentum
from cryptoviz.models.moving_average import MovingAverage
from cryptoviz.models.volatility import Volatility
from cryptoviz.models.window import TimeWindow
from cryptoviz.scraper.sources.replay import read_history
from cryptoviz.settings import HISTORY_2024_2026


@pytest.fixture(scope="module")
def btc() -> list[tuple[float, float]]:
    rows = read_history([HISTORY_2024_2026], ["BTC"])[:3000]
    return [(r.ts.timestamp(), r.price) for r in rows]


def in_window(series, i, span):
    t = series[i][0]
    return [(tt, p) for tt, p in series[: i + 1] if tt >= t - span]


def test_moving_average_matches_numpy_mean(btc):
    ma = MovingAverage(6 * HOUR)
    for i, (t, p) in enumerate(btc):
        ma.update(t, p)
        if i % 97 == 0:
            ref = np.mean([p for _, p in in_window(btc, i, 6 * HOUR)])
            assert ma.predict(t, HOUR) == pytest.approx(ref, rel=1e-9)


def test_linear_trend_matches_polyfit_over_the_time_window(btc):
    trend = LinearTrend(12 * HOUR)
    for i, (t, p) in enumerate(btc):
        trend.update(t, p)
        if i % 101 == 0 and i > 2:
            pts = in_window(btc, i, 12 * HOUR)
            x = np.array([tt for tt, _ in pts]) / HOUR
            slope, intercept = np.polyfit(x, [p for _, p in pts], 1)
            for horizon in (HOUR, 6 * HOUR):
                ref = intercept + slope * (t + horizon) / HOUR
                assert trend.predict(t, horizon) == pytest.approx(ref, rel=1e-7)


def test_running_sums_stay_exact_over_many_evictions():
    rng = random.Random(7)
    win = TimeWindow(50.0)
    t, pts = 0.0, []
    for _ in range(20000):
        t += rng.uniform(0.5, 2.0)
        p = 30000 + rng.gauss(0, 500)
        win.add(t, p)
        pts.append((t, p))
    kept = [(tt, p) for tt, p in pts if tt >= t - 50.0]
    assert win.n == len(kept) and win.mean == pytest.approx(np.mean([p for _, p in kept]), rel=1e-9)


def test_momentum_carries_the_window_rate_forward():
    mo = Momentum(3 * HOUR)
    for i, p in enumerate([100, 101, 103, 104, 108]):
        mo.update(i * HOUR, p)
    # window holds t=1h..4h (103..108 at 2h..4h plus 101 at 1h): rate (108-101)/3h
    assert mo.predict(4 * HOUR, HOUR) == pytest.approx(108 + 7 / 3)
    assert mo.predict(4 * HOUR, 6 * HOUR) == pytest.approx(108 + 14)


def test_predictions_are_in_event_time_not_ticks():
    """Ticks every minute or every hour: the same straight line gives the same 1 h prediction."""
    for step in (60.0, HOUR):
        trend = LinearTrend(12 * HOUR)
        t = 0.0
        while t <= 10 * HOUR:
            trend.update(t, 100 + 2 * t / HOUR)
            t += step
        last = t - step
        assert trend.predict(last, HOUR) == pytest.approx(100 + 2 * (last + HOUR) / HOUR)


def test_consensus_is_the_weighted_mean():
    assert consensus((100, 110, 130), (0.4, 0.4, 0.2)) == pytest.approx(110)
    assert consensus((1, 2, 3), (1, 0, 0)) == 1


def test_volatility_matches_numpy_on_hourly_returns(btc):
    vol = Volatility(24 * HOUR)
    for t, p in btc[:200]:
        vol.update(t, p)
    pts = in_window(btc[:200], 199, 24 * HOUR)
    prices = [p for _, p in btc[:200]]
    rets = np.diff(np.log(prices))[-len(pts) :]
    assert vol.hourly() == pytest.approx(math.sqrt(np.mean(rets**2)), rel=1e-9)


def test_engine_ignores_duplicates_and_restores_from_a_snapshot(btc):
    cfg = ModelConfig()
    a = SymbolModel(cfg)
    for t, p in btc[:500]:
        a.update(t, p)
    assert a.update(*btc[499]) is None, "a replayed tick is not applied twice"
    b = SymbolModel.from_state(a.to_state(), cfg)
    for t, p in btc[500:800]:
        out_a, out_b = a.update(t, p), b.update(t, p)
        for h, by_model in out_a.predictions.items():
            assert out_b.predictions[h] == pytest.approx(by_model, rel=1e-9)
        assert out_a.signal.action == out_b.signal.action
        assert out_a.signal.p_up == pytest.approx(out_b.signal.p_up, abs=1e-9)
        for h, fc in out_a.forecasts.items():
            assert out_b.forecasts[h].to_list() == pytest.approx(fc.to_list(), rel=1e-6)
    sa, sb = a.board.summary()["6h"], b.board.summary()["6h"]
    assert sa["consensus"]["n"] == sb["consensus"]["n"] > 0
    assert sa["consensus"]["mae"] == pytest.approx(sb["consensus"]["mae"], rel=1e-9)


def test_reversal_flips_the_move_of_the_hour_ending_now():
    model = SymbolModel(ModelConfig())
    model.update(0.0, 100.0)
    out = model.update(HOUR, 110.0)
    assert out is not None
    assert out.predictions["1h"]["reversal"] == pytest.approx(110.0 * 100.0 / 110.0)
