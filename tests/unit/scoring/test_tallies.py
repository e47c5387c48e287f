"""The tallies and statistics against plain references: Newey-West by its definition, Wilson by a
textbook value, R^2 and the reliability table by numpy."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cryptoviz.scoring.stats import newey_west_t, wilson
from cryptoviz.scoring.tallies import HacMean, MoveTally, ProbabilityTally


def newey_west_reference(x: np.ndarray, lags: int) -> float:
    n, m = len(x), x.mean()
    d = x - m
    gammas = [float(d[k:] @ d[: n - k]) / n for k in range(lags + 1)]
    var = gammas[0] + 2 * sum((1 - k / (lags + 1)) * gammas[k] for k in range(1, lags + 1))
    return m / math.sqrt(var / n)


@pytest.mark.parametrize("lags", [1, 2, 12])
def test_hac_mean_matches_newey_west_by_its_definition(lags):
    rng = np.random.default_rng(lags)
    x = np.zeros(700)
    for i in range(1, 700):  # autocorrelated, as overlapping 6 h outcomes are
        x[i] = 0.6 * x[i - 1] + rng.normal(0.05, 1)
    hac = HacMean(lags)
    for hour, v in enumerate(x):  # hourly outcomes: a bucket each
        hac.add(float(v), hour * 3600.0)
    assert hac.mean() == pytest.approx(x.mean(), rel=1e-12)
    # the last hour's bucket is still open: the t statistic is over the others
    assert hac.t_stat() == pytest.approx(newey_west_reference(x[:-1], lags), rel=1e-9)
    again = HacMean.from_state(hac.to_state())
    assert again.t_stat() == hac.t_stat()
    again.add(0.0, 700 * 3600.0)
    assert again.t_stat() == pytest.approx(newey_west_reference(x, lags), rel=1e-9)


def test_hac_t_runs_over_hour_buckets_whatever_the_cadence():
    """Sixty minute outcomes an hour (mixed with hourly ones) count as their hour's mean, so the t
    statistic does not grow with the cadence: the same as over the hourly means by hand."""
    rng = np.random.default_rng(3)
    hac = HacMean(12)
    means = []
    for hour in range(300):
        per_hour = 60 if hour % 3 else 1  # minute quotes, and every third hour one hourly row
        values = rng.normal(0.05, 1, per_hour) + 0.3 * (means[-1] if means else 0.0)
        for j, v in enumerate(values):
            hac.add(float(v), hour * 3600.0 + j * 60.0)
        means.append(float(values.mean()))
    hac.add(0.0, 300 * 3600.0)  # closes the last hour
    assert hac.t_stat() == pytest.approx(newey_west_reference(np.array(means), 12), rel=1e-9)
    assert hac.values == 200 * 60 + 100 + 1


def test_hac_t_is_none_with_too_few_values_or_no_variance():
    hac = HacMean(2)
    for hour, v in enumerate((1.0, 1.0, 1.0, 1.0)):
        hac.add(v, hour * 3600.0)
    assert hac.t_stat() is None
    assert newey_west_t(0.0, [0.0, 0.0], 10) is None


def test_wilson_interval_textbook_value():
    assert wilson(8, 10) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    assert wilson(0, 0) is None
    interval = wilson(0, 20)
    assert interval is not None and interval[0] == 0.0 and 0.1 < interval[1] < 0.2


def test_move_tally_r2_against_a_walk_forward_constant():
    rng = np.random.default_rng(9)
    realised = np.abs(rng.normal(0, 1, 500)) * np.repeat([0.5, 2.0], 250)
    expected = np.repeat([0.4, 1.6], 250)
    t = MoveTally()
    for e, r in zip(expected, realised, strict=True):
        t.add(float(e), float(r))
    constant = np.cumsum(realised)[:-1] / np.arange(1, 500)
    r2 = 1 - ((realised[1:] - expected[1:]) ** 2).sum() / ((realised[1:] - constant) ** 2).sum()
    assert t.summary()["r2"] == pytest.approx(r2, rel=1e-9) and t.summary()["n"] == 499


def test_probability_tally_brier_and_reliability():
    rng = np.random.default_rng(10)
    p = rng.uniform(0, 1, 2000)
    up = rng.uniform(size=2000) < p
    t = ProbabilityTally()
    for pi, ui in zip(p, up, strict=True):
        t.add(float(pi), 0.5, bool(ui))
    s = t.summary()
    assert s["brier"] == pytest.approx(float(((p - up) ** 2).mean()))
    assert s["brier_base_rate"] == pytest.approx(0.25)
    for b in s["reliability"]:
        lo = float(b["bin"].split("-")[0])
        mask = (p >= lo) & (p < lo + 0.1)
        assert b["n"] == mask.sum() and b["observed"] == pytest.approx(up[mask].mean())
