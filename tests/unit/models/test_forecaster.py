"""The headline forecast: no look-ahead, learning only from outcomes whose horizon has passed,
a snapshot that resumes calibrated, and the calibration itself on series whose truth is known."""

from __future__ import annotations

import math
import random

import orjson
import pytest

from cryptoviz.models import HOUR
from cryptoviz.models.engine import ModelConfig, SymbolModel
from cryptoviz.models.forecaster import Forecast, Forecaster
from cryptoviz.scoring.summary import ScoreSummary
from cryptoviz.scraper.sources.replay import read_history
from cryptoviz.settings import HISTORY_2024_2026


@pytest.fixture(scope="module")
def eth() -> list[tuple[float, float]]:
    rows = read_history([HISTORY_2024_2026], ["ETH"])[:2500]
    return [(r.ts.timestamp(), r.price) for r in rows]


def synthetic(n: int, seed: int, phi: float = 0.0) -> list[tuple[float, float]]:
    """Hourly prices whose volatility switches between calm and busy spells, with returns that
    carry -phi of the last one (phi > 0: a predictable reversal)."""
    rng = random.Random(seed)
    price, last, sigma = 100.0, 0.0, 0.005
    out = []
    for i in range(n):
        if i % 500 == 0:
            sigma = rng.choice([0.003, 0.006, 0.012])
        r = -phi * last + rng.gauss(0, sigma)
        price *= math.exp(r)
        last = r
        out.append((i * HOUR, price))
    return out


def test_forecast_list_round_trip():
    fc = Forecast(
        101.0, {"80": (99.0, 103.0), "90": (98.0, 104.0)}, 0.6, 0.58, 2, 0.01, (0.1, -0.2, 0.3), 0.4, 0.5
    )
    assert Forecast.from_list(orjson.loads(orjson.dumps(fc.to_list()))) == fc


def test_no_look_ahead_shuffling_the_future_changes_no_past_forecast(eth):
    cut = 2000
    future = [p for _, p in eth[cut:]]
    random.Random(11).shuffle(future)
    shuffled = eth[:cut] + [(t, p) for (t, _), p in zip(eth[cut:], future, strict=True)]
    a, b = SymbolModel(ModelConfig()), SymbolModel(ModelConfig())
    seen = 0
    for (t, p), (t2, p2) in zip(eth, shuffled, strict=True):
        out_a, out_b = a.update(t, p), b.update(t2, p2)
        if t < eth[cut][0]:
            assert out_a is not None and out_b is not None
            assert out_a.forecasts == out_b.forecasts and out_a.expected_moves == out_b.expected_moves
            seen += bool(out_a.forecasts)
    assert seen > 1900
    assert a.forecaster.to_state() != b.forecaster.to_state()


def test_only_outcomes_whose_horizon_has_passed_are_learnt(eth):
    model = SymbolModel(ModelConfig())
    made: list[float] = []  # times of the 6 h forecasts
    for t, p in eth[:600]:
        out = model.update(t, p)
        assert out is not None
        settled = sum(1 for m in made if m + 6 * HOUR <= t)
        assert model.forecaster.horizons["6h"].p_up.total_n == settled
        if "6h" in out.forecasts:
            made.append(t)


def test_a_snapshot_resumes_calibrated(eth):
    a = SymbolModel(ModelConfig())
    for t, p in eth[:1500]:
        a.update(t, p)
    b = SymbolModel.from_state(orjson.loads(orjson.dumps(a.to_state())), ModelConfig())
    for t, p in eth[1500:1700]:
        out_a, out_b = a.update(t, p), b.update(t, p)
        assert out_a is not None and out_b is not None
        for h, fc in out_a.forecasts.items():
            assert out_b.forecasts[h].to_list() == pytest.approx(fc.to_list(), rel=1e-6, abs=1e-9)


def run(series: list[tuple[float, float]]) -> ScoreSummary:
    model = SymbolModel(ModelConfig())
    for t, p in series:
        model.update(t, p)
    return model.board.summary()


def test_intervals_hold_their_nominal_share_in_every_volatility_regime():
    summary = run(synthetic(12000, seed=12))
    for h in ("1h", "6h"):
        for level, nominal in (("80", 0.8), ("90", 0.9)):
            iv = summary[h]["intervals"][level]
            assert iv["coverage"] == pytest.approx(nominal, abs=0.015)
            for regime in iv["by_regime"].values():
                assert regime["n"] > 1000 and regime["coverage"] == pytest.approx(nominal, abs=0.04)


def test_a_predictable_reversal_is_found_and_p_up_beats_the_base_rate():
    summary = run(synthetic(12000, seed=13, phi=0.15))["1h"]
    # the best possible: 1 - 1/sqrt(1 + phi^2) = 1.1 %
    assert summary["skill"]["forecast"]["skill"] > 0.005 and summary["skill"]["forecast"]["t_stat"] > 3
    assert summary["p_up"]["brier"] < summary["p_up"]["brier_base_rate"] - 0.001
    for b in summary["p_up"]["reliability"]:
        if b["n"] > 500:  # calibrated: what it said is what happened, within sampling noise
            assert b["observed"] == pytest.approx(b["p_mean"], abs=0.05)


def test_no_skill_to_find_leaves_the_point_at_persistence():
    summary = run(synthetic(8000, seed=14))["1h"]
    skill = summary["skill"]["forecast"]
    assert abs(skill["skill"]) < 0.003
    assert summary["p_up"]["brier"] <= summary["p_up"]["brier_base_rate"] + 0.001


def test_the_volatility_forecast_explains_the_size_of_moves():
    model = SymbolModel(ModelConfig())
    for t, p in synthetic(6000, seed=15):
        model.update(t, p)
    vol = model.board.summary()["volatility"]
    assert vol["1h"]["r2"] > 0.1 and vol["24h"]["n"] > 5000
    assert isinstance(Forecaster().expected_moves(0.0, 100.0), dict)
