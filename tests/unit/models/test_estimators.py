"""Each online estimator against a plain reference computation on the same stream, and for them and
the fading averages a no-look-ahead check (what it answered after the first k values never depends
on the values after) and a snapshot round trip."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from cryptoviz.models.estimators import (
    AdaptiveLevel,
    BinnedRate,
    DecayedHistogram,
    OnlineRidge,
    observation_weight,
)
from cryptoviz.models.fading import EwmaVariance, FadingMean


def fading_weights(n: int, halflife: float) -> np.ndarray:
    """The weight of each of n values when the newest weighs 1 and each older one halves per halflife."""
    return 0.5 ** (np.arange(n)[::-1] / halflife)


def weighted_quantile(x: np.ndarray, w: np.ndarray, p: float) -> float:
    order = np.argsort(x)
    cum = np.cumsum(w[order]) / w.sum()
    return float(x[order][np.searchsorted(cum, p)])


def test_histogram_quantiles_and_cdf_match_the_weighted_sample():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(0, 1, 3000), rng.standard_t(3, 3000) * 2])
    h = DecayedHistogram(-10, 10, 400, halflife=1500)
    for v in x:
        h.add(float(v))
    w = fading_weights(len(x), 1500)
    probs = [0.05, 0.1, 0.5, 0.9, 0.95]
    for p, q in zip(probs, h.quantiles(probs), strict=True):
        assert q == pytest.approx(weighted_quantile(x, w, p), abs=h.width + 0.02)
    for v in (-2.0, 0.0, 1.3):
        assert h.cdf(v) == pytest.approx(w[x < v].sum() / w.sum(), abs=0.01)
    assert h.weight == pytest.approx(w.sum(), rel=1e-9)


def test_histogram_survives_rescaling_of_its_growing_weights():
    h = DecayedHistogram(-1, 1, 20, halflife=1.0)  # weights double per value: rescaled every ~330 values
    for i in range(2000):
        h.add(0.5 if i % 2 else -0.5)
    assert h.quantiles([0.25, 0.75]) == pytest.approx([-0.5, 0.5], abs=0.1)
    assert math.isfinite(h.g) and h.g <= 1e100


def test_ridge_matches_the_batch_weighted_ridge():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(800, 3))
    y = x @ np.array([0.3, -0.2, 0.05]) + rng.normal(0, 1, 800)
    r = OnlineRidge(3, halflife=200, penalty=5.0)
    for xi, yi in zip(x, y, strict=True):
        r.add(list(xi), float(yi))
    w = fading_weights(len(y), 200)
    beta = np.linalg.solve((x * w[:, None]).T @ x + 5.0 * np.eye(3), (x * w[:, None]).T @ y)
    assert r.coefficients() == pytest.approx(list(beta), rel=1e-9, abs=1e-12)
    assert r.predict([1.0, 2.0, 3.0]) == pytest.approx(float(beta @ [1.0, 2.0, 3.0]), rel=1e-9)


def test_binned_rate_is_the_faded_frequency_in_its_bin_shrunk_to_the_overall_rate():
    rng = np.random.default_rng(3)
    scores = rng.uniform(0.3, 0.7, 2000)
    events = rng.uniform(size=2000) < scores
    b = BinnedRate([0.4, 0.5, 0.6], halflife=500, prior=20)
    for s, e in zip(scores, events, strict=True):
        b.add(float(s), bool(e))
    w = fading_weights(len(scores), 500)
    base = events.mean()
    assert b.base_rate() == pytest.approx(base)
    in_bin = (scores >= 0.5) & (scores < 0.6)
    expected = (w[in_bin & events].sum() + 20 * base) / (w[in_bin].sum() + 20)
    assert b.rate(0.55) == pytest.approx(expected, rel=1e-9)


def test_adaptive_level_follows_its_recursion_and_brings_misses_to_the_target():
    rng = random.Random(4)
    level = AdaptiveLevel(0.1, gamma=0.01)
    alpha, misses = 0.1, 0
    for _ in range(20000):
        z = rng.gauss(0, 1.3)  # the interval believes sigma = 1: it misses too often at first
        half = _normal_quantile(1 - level.alpha / 2)
        missed = abs(z) > half
        misses += missed
        level.update(missed)
        alpha = min(0.5, max(0.002, alpha + 0.01 * (0.1 - missed)))
        assert level.alpha == pytest.approx(alpha)
    assert misses / 20000 == pytest.approx(0.1, abs=0.01)


def _normal_quantile(p: float) -> float:
    lo, hi = -10.0, 10.0
    for _ in range(80):
        mid = (lo + hi) / 2
        if 0.5 * (1 + math.erf(mid / math.sqrt(2))) < p:
            lo = mid
        else:
            hi = mid
    return lo


def mixed_spacing(n: int, seed: int) -> np.ndarray:
    """Seconds between n observations: hourly rows, minute quotes, 5 s stream quotes and irregular
    gaps, in runs, as a backfill followed by live quotes gives them."""
    rng = np.random.default_rng(seed)
    runs = [np.full(50, 3600.0), np.full(300, 60.0), np.full(200, 5.0), rng.uniform(1, 9000, 100)]
    return np.resize(np.concatenate(runs), n)


def time_weights(dt: np.ndarray, halflife_h: float) -> tuple[np.ndarray, np.ndarray]:
    """By hand: each observation's weight w (its hours, at most one) and its faded weight at the
    end, w x 0.5^(the hours of observations after it / the half-life)."""
    w = np.minimum(dt, 3600.0) / 3600.0
    after = np.cumsum(w[::-1])[::-1] - w
    return w, w * 0.5 ** (after / halflife_h)


def test_observation_weight_is_the_hours_an_observation_stands_for():
    assert observation_weight(3600) == 1.0 and observation_weight(60) == pytest.approx(1 / 60)
    assert observation_weight(5 * 3600) == 1.0 and observation_weight(-1) == 0.0


def test_estimators_at_mixed_cadence_match_the_time_weighted_reference():
    rng = np.random.default_rng(11)
    n = 3000
    dt = mixed_spacing(n, 11)
    w, faded = time_weights(dt, 40.0)
    x = rng.normal(0, 1, n)
    hist = DecayedHistogram(-6, 6, 240, halflife=40.0)
    ridge = OnlineRidge(2, halflife=40.0, penalty=3.0)
    rate = BinnedRate([0.0], halflife=40.0, prior=5.0)
    level = AdaptiveLevel(0.1, gamma=0.01)
    alpha = 0.1
    feats = np.column_stack([x, np.ones(n)])
    y = 0.4 * x + rng.normal(0, 1, n)
    for i in range(n):
        hist.add(float(x[i]), float(w[i]))
        ridge.add(list(feats[i]), float(y[i]), float(w[i]))
        rate.add(float(x[i]), bool(y[i] > 0), float(w[i]))
        missed = abs(y[i]) > 1.6
        level.update(missed, float(w[i]))
        alpha = min(0.5, max(0.002, alpha + 0.01 * w[i] * (0.1 - missed)))
    assert hist.weight == pytest.approx(faded.sum(), rel=1e-9)
    for v in (-1.0, 0.0, 0.7):
        assert hist.cdf(v) == pytest.approx(faded[x < v].sum() / faded.sum(), abs=0.01)
    weighted = (feats * faded[:, None]).T
    beta = np.linalg.solve(weighted @ feats + 3.0 * np.eye(2), weighted @ y)
    assert ridge.coefficients() == pytest.approx(list(beta), rel=1e-9, abs=1e-12)
    up, pos = y > 0, x >= 0
    base = (w * up).sum() / w.sum()
    assert rate.base_rate() == pytest.approx(base, rel=1e-12)
    # the prior: 5 hours' worth of observations at today's weight (an hour weighs 1 now)
    expected = ((faded * (pos & up)).sum() + 5.0 * base) / ((faded * pos).sum() + 5.0)
    assert rate.rate(0.5) == pytest.approx(expected, rel=1e-9)
    assert level.alpha == pytest.approx(alpha, rel=1e-12)


def test_minute_quotes_teach_what_the_hourly_rows_of_the_same_hours_do():
    """An hourly stream, and the same values as sixty minute quotes each: the same weight in hours,
    the same quantiles, calibration map and coefficients (to the fading within an hour)."""
    rng = np.random.default_rng(12)
    x = rng.standard_t(4, 600)
    y = 0.3 * x + rng.normal(0, 1, 600)
    made = [
        (DecayedHistogram(-8, 8, 400, 100.0), OnlineRidge(1, 100.0, 2.0), BinnedRate([0.0], 100.0, 10.0))
        for _ in range(2)
    ]
    for (hist, ridge, rate), per_hour in zip(made, (1, 60), strict=True):
        for xi, yi in zip(x, y, strict=True):
            for _ in range(per_hour):
                hist.add(float(xi), 1 / per_hour)
                ridge.add([float(xi)], float(yi), 1 / per_hour)
                rate.add(float(xi), bool(yi > 0), 1 / per_hour)
    (h1, r1, b1), (h60, r60, b60) = made
    assert h60.weight == pytest.approx(h1.weight, rel=0.005)
    assert h60.quantiles([0.1, 0.5, 0.9]) == pytest.approx(h1.quantiles([0.1, 0.5, 0.9]), abs=h1.width)
    assert r60.coefficients() == pytest.approx(r1.coefficients(), rel=0.005)
    assert b60.rate(0.5) == pytest.approx(b1.rate(0.5), rel=0.005)
    assert b60.base_rate() == pytest.approx(b1.base_rate(), rel=1e-9)


ESTIMATORS: dict[str, tuple[Callable[[], Any], Callable[[Any, float], None], Callable[[Any], object]]] = {
    "histogram": (
        lambda: DecayedHistogram(-5, 5, 100, 300),
        lambda e, v: e.add(v),
        lambda e: e.quantiles([0.1, 0.9]),
    ),
    "ridge": (
        lambda: OnlineRidge(2, 300, 1.0),
        lambda e, v: e.add([v, v * v], math.sin(v)),
        lambda e: e.coefficients(),
    ),
    "binned_rate": (
        lambda: BinnedRate([0.0], 300, 10),
        lambda e, v: e.add(v, v > 0.3),
        lambda e: e.rate(0.5),
    ),
    "adaptive_level": (
        lambda: AdaptiveLevel(0.1),
        lambda e, v: e.update(abs(v) > 1.5),
        lambda e: e.alpha,
    ),
    "fading_mean": (
        lambda: FadingMean(300),
        lambda e, v: e.add(v),
        lambda e: (e.value(), e.t_stat()),
    ),
    "ewma_variance": (  # an hourly tick a value, the value a log return in %
        lambda: EwmaVariance(24.0),
        lambda e, v: e.update(
            e.last[0] + 3600.0 if e.last else 0.0, (e.last[1] if e.last else 100.0) * math.exp(v / 100)
        ),
        lambda e: e.hourly(),
    ),
}


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_no_look_ahead_shuffling_the_future_changes_no_past_answer(name):
    make, feed, answer = ESTIMATORS[name]
    rng = random.Random(7)
    stream = [rng.gauss(0, 1) for _ in range(1200)]
    future = stream[800:]
    rng.shuffle(future)
    shuffled = stream[:800] + future
    a, b = make(), make()
    for i, (x, y) in enumerate(zip(stream, shuffled, strict=True)):
        feed(a, x)
        feed(b, y)
        if i < 800:
            assert answer(a) == answer(b)
    assert answer(a) != answer(b)  # the futures differ, and so do the answers after them


@pytest.mark.parametrize(
    "cls", [DecayedHistogram, OnlineRidge, BinnedRate, AdaptiveLevel, FadingMean, EwmaVariance]
)
def test_a_snapshot_restores_the_estimator(cls):
    make = {
        DecayedHistogram: lambda: DecayedHistogram(-3, 3, 30, 50),
        OnlineRidge: lambda: OnlineRidge(2, 50, 1.0),
        BinnedRate: lambda: BinnedRate([0.0], 50, 5),
        AdaptiveLevel: lambda: AdaptiveLevel(0.2),
        FadingMean: lambda: FadingMean(50),
        EwmaVariance: lambda: EwmaVariance(12),
    }[cls]
    feed = {
        DecayedHistogram: lambda e, i, v: e.add(v),
        OnlineRidge: lambda e, i, v: e.add([v, 1.0], v * 0.5),
        BinnedRate: lambda e, i, v: e.add(v, v > 0),
        AdaptiveLevel: lambda e, i, v: e.update(v > 1),
        FadingMean: lambda e, i, v: e.add(v),
        EwmaVariance: lambda e, i, v: e.update(i * 3600.0, 100 * math.exp(v / 100)),
    }[cls]
    rng = random.Random(8)
    a = make()
    for i in range(300):
        feed(a, i, rng.gauss(0, 1))
    b = cls.from_state(a.to_state())
    for i in range(300, 400):
        v = rng.gauss(0, 1)
        feed(a, i, v)
        feed(b, i, v)
    assert (
        a.to_state() == pytest.approx(b.to_state()) if cls is AdaptiveLevel else a.to_state() == b.to_state()
    )
