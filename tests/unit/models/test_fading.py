"""The fading averages against plain references computed with numpy on the same stream."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cryptoviz.models.fading import EwmaVariance, FadingMean


def fading_weights(n: int, halflife: float) -> np.ndarray:
    return 0.5 ** (np.arange(n)[::-1] / halflife)


def test_fading_mean_and_its_t_statistic():
    rng = np.random.default_rng(5)
    x = rng.normal(0.1, 1.0, 3000)
    m = FadingMean(halflife=700)
    for v in x:
        m.add(float(v))
    w = fading_weights(len(x), 700)
    mean = (w * x).sum() / w.sum()
    var = (w * x * x).sum() / w.sum() - mean**2
    n_eff = w.sum() ** 2 / (w**2).sum()
    assert m.value() == pytest.approx(mean, rel=1e-9)
    assert m.t_stat() == pytest.approx(mean / math.sqrt(var / n_eff), rel=1e-6)
    overlapping = FadingMean(halflife=700)  # outcomes spanning 4 of their spacings: a quarter each
    for v in x:
        overlapping.add(float(v), 1.0, 4.0)
    assert overlapping.value() == pytest.approx(mean, rel=1e-9)
    assert overlapping.t_stat() == pytest.approx(mean / math.sqrt(var / (n_eff / 4)), rel=1e-6)
    assert FadingMean(10).value() is None and FadingMean(10).t_stat() == 0


def test_fading_mean_means_the_same_at_any_cadence():
    """A value per minute weighing 1/60 each teaches what the hourly value does: the same mean, the
    same weight, the same fading per hour and, for 6 h outcomes, the same effective count."""
    rng = np.random.default_rng(7)
    hourly_x = rng.normal(0.2, 1.0, 400)
    hourly, minute = FadingMean(halflife=48), FadingMean(halflife=48)
    for v in hourly_x:
        hourly.add(float(v), 1.0, 6.0)
        for _ in range(60):
            minute.add(float(v), 1 / 60, 6.0)
    # by hand: the weight of the hour k back is 0.5^(k / 48) either way, summed over the minutes
    w = fading_weights(len(hourly_x), 48)
    inside = sum(0.5 ** (j / 60 / 48) for j in range(60)) / 60  # an hour's minutes, as of its end
    assert minute.sum_w == pytest.approx(w.sum() * inside, rel=1e-9)
    assert hourly.sum_w == pytest.approx(w.sum(), rel=1e-9)
    assert minute.value() == pytest.approx((w * hourly_x).sum() / w.sum(), rel=1e-3)
    assert minute.value() == pytest.approx(hourly.value(), rel=1e-3)
    assert minute.t_stat() == pytest.approx(hourly.t_stat(), rel=0.02)


def test_ewma_variance_weighs_each_return_by_the_time_it_spans():
    rng = np.random.default_rng(6)
    t, price = 0.0, 100.0
    e = EwmaVariance(halflife_h=24)
    times, prices = [t], [price]
    e.update(t, price)
    for _ in range(500):
        t += 3600 * float(rng.choice([0.5, 1.0, 2.0]))
        price *= math.exp(rng.normal(0, 0.01))
        times.append(t)
        prices.append(price)
        e.update(t, price)
    dt_h = np.diff(times) / 3600
    r = np.diff(np.log(prices))
    keep = 0.5 ** (dt_h / 24)
    var = weight = 0.0
    for k, ri, dti in zip(keep, r, dt_h, strict=True):
        var = k * var + (1 - k) * ri * ri / dti
        weight = k * weight + (1 - k)
    assert e.hourly() == pytest.approx(math.sqrt(var / weight), rel=1e-9)
    assert EwmaVariance(24).hourly() is None
