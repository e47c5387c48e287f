"""One symbol's models, signals and scoreboard, fed tick by tick in event time (no I/O).

The reference engine: the live processor and the backtest run the compiled core (`book.ModelBook`),
which matches this class to 1e-9 (tests/unit/models/test_book.py) and reads and writes its snapshot
format.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, TypedDict

from cryptoviz.models import HORIZONS
from cryptoviz.models.consensus import consensus
from cryptoviz.models.forecaster import Forecast, ForecastConfig, Forecaster
from cryptoviz.models.linear_trend import LinearTrend
from cryptoviz.models.momentum import Momentum
from cryptoviz.models.moving_average import MovingAverage
from cryptoviz.models.signals import Signal, decide
from cryptoviz.models.volatility import Volatility
from cryptoviz.models.window import TimeWindow
from cryptoviz.scoring import Scoreboard
from cryptoviz.scoring.summary import ModelScore, ScoreSummary

STATE_VERSION = 3  # 3: weights in hours, signals as positions (an older snapshot starts afresh)


@dataclass(frozen=True)
class ModelConfig:
    ma_window_s: float = 6 * 3600
    trend_window_s: float = 12 * 3600
    momentum_window_s: float = 3 * 3600
    volatility_window_s: float = 24 * 3600
    weights: tuple[float, float, float] = (0.4, 0.4, 0.2)
    threshold: float = 0.55  # P(up) (or 1 - P(up)) a signal needs: see docs/models.md
    fee_bps: float = 10.0  # round trip; the forecast's move must exceed it for a BUY or SELL
    signal_horizon: str = "1h"
    forecast: ForecastConfig = field(default_factory=ForecastConfig)

    @classmethod
    def from_settings(cls, s) -> ModelConfig:  # s: cryptoviz.settings.MLSettings
        return cls(
            s.ml_ma_window_s,
            s.ml_trend_window_s,
            s.ml_momentum_window_s,
            s.ml_volatility_window_s,
            tuple(s.ml_weights),
            s.ml_confidence_threshold,
            s.ml_fee_bps,
        )


@dataclass(frozen=True, slots=True)
class Output:
    t: float
    price: float
    predictions: dict[str, dict[str, float]]  # horizon -> model (and baselines) -> price
    signal: Signal
    scored: int  # predictions scored by this tick
    forecasts: dict[str, Forecast]  # horizon -> the headline forecast ({} until there is a volatility)
    expected_moves: dict[str, float]  # horizon (1h, 6h, 24h) -> expected absolute move, % of price


class ModelStats(TypedDict):
    """The seed models' state after a tick (the ML view's `stats`); None where one has no value yet."""

    ticks: int
    moving_average: float | None  # the window's mean price
    trend_slope_per_h: float  # the trend's, USD per hour
    momentum_per_h: float | None
    volatility_1h_pct: float | None
    window_points: int  # the trend window's


class SymbolModel:
    def __init__(self, config: ModelConfig) -> None:
        self.config = config
        self.ma = MovingAverage(config.ma_window_s)
        self.trend = LinearTrend(config.trend_window_s)
        self.momentum = Momentum(config.momentum_window_s)
        self.vol = Volatility(config.volatility_window_s)
        self.forecaster = Forecaster(config.forecast)
        self.board = Scoreboard(HORIZONS, fee_bps=config.fee_bps)
        self.first: tuple[float, float] | None = None  # (t, price): the drift baseline's start
        self.last_t = -math.inf
        self.ticks = 0

    def update(self, t: float, price: float) -> Output | None:
        """Apply one tick; None if it is not newer than the last one (duplicate or out of order)."""
        if t <= self.last_t:
            return None
        self.last_t = t
        self.ticks += 1
        scored = self.board.on_tick(t, price)
        for h, due, base, fc in self.board.settled:  # outcomes known now: learnt before forecasting
            self.forecaster.learn(h, due, base, fc, price)
        self.board.score_moves(self.forecaster.settle_moves(t, price, self.board.tolerance))
        self.ma.update(t, price)
        self.trend.update(t, price)
        self.momentum.update(t, price)
        self.vol.update(t, price)
        self.forecaster.tick(t, price)
        # the last hour's move (to this tick) flipped
        reversal = price * math.exp(-self.forecaster.last_move()[0]) if self.ticks > 1 else price
        if self.first is None:
            self.first = (t, price)
        cfg = self.config
        elapsed = t - self.first[0]
        drift_rate = math.log(price / self.first[1]) / elapsed if elapsed > 0 else 0.0
        predictions: dict[str, dict[str, float]] = {}
        seeds: dict[str, tuple[float, float, float]] = {}
        for h, horizon_s in HORIZONS.items():
            ma = self.ma.predict(t, horizon_s)
            lt = self.trend.predict(t, horizon_s)
            mo = self.momentum.predict(t, horizon_s)
            seeds[h] = (ma, lt, mo)
            predictions[h] = {
                "moving_average": ma,
                "linear_trend": lt,
                "momentum": mo,
                "consensus": consensus((ma, lt, mo), cfg.weights),
                "persistence": price,
                "drift": price * math.exp(drift_rate * horizon_s),
                "reversal": reversal,
            }
        forecasts = self.forecaster.forecast(
            price,
            {h: p["consensus"] for h, p in predictions.items()},
            {h: (p["moving_average"] if self.ma.window.n else None) for h, p in predictions.items()},
        )
        signals: dict[str, Signal] = {}
        for h, preds in predictions.items():
            headline = forecasts.get(h)
            preds["forecast"] = headline.point if headline is not None else price
            p_up = headline.p_up if headline is not None else 0.5
            signals[h] = decide(
                price, preds["forecast"], p_up, cfg.threshold, cfg.fee_bps, h, seeds[h], cfg.weights
            )
        moves = self.forecaster.expected_moves(t, price)
        self.board.record(t, price, predictions, {h: s.direction for h, s in signals.items()}, forecasts)
        return Output(t, price, predictions, signals[cfg.signal_horizon], scored, forecasts, moves)

    def stats(self) -> ModelStats:
        vol = self.vol.hourly()
        return {
            "ticks": self.ticks,
            "moving_average": self.ma.window.mean if self.ma.window.n else None,
            "trend_slope_per_h": self.trend.slope_per_hour(),
            "momentum_per_h": self.momentum.rate_per_second() * 3600 if self.momentum.points else None,
            "volatility_1h_pct": vol * 100 if vol is not None else None,
            "window_points": self.trend.window.n,
        }

    def summary(self) -> ScoreSummary:
        return self.board.summary()

    def forecast_scores(self) -> dict[str, ModelScore | None]:
        """The headline forecast's scores so far at each horizon (None before one was scored): what
        of `summary` a symbol's ML summary carries."""
        by_horizon: dict[str, Any] = dict(self.summary())
        return {h: by_horizon[h].get("forecast") for h in HORIZONS}

    def learnt(self, horizon: str, regime: int) -> bool:
        """`HorizonForecaster.learnt`: the forecast at `horizon` in `regime` is no placeholder."""
        return self.forecaster.horizons[horizon].learnt(regime)

    # --- snapshot ------------------------------------------------------------------------------
    def to_state(self) -> dict:
        return {
            "v": STATE_VERSION,
            "ma": self.ma.window.to_state(),
            "trend": self.trend.window.to_state(),
            "momentum": [self.momentum.span_s, [list(p) for p in self.momentum.points]],
            "vol": self.vol.to_state(),
            "board": self.board.to_state(),
            "forecaster": self.forecaster.to_state(),
            "first": list(self.first) if self.first else None,
            "last_t": self.last_t if math.isfinite(self.last_t) else None,
            "ticks": self.ticks,
        }

    @classmethod
    def from_state(cls, state: dict, config: ModelConfig) -> SymbolModel:
        model = cls(config)
        if state.get("v") != STATE_VERSION:
            return model
        model.ma.window = TimeWindow.from_state(state["ma"])
        model.trend.window = TimeWindow.from_state(state["trend"])
        if model.trend.window.points:
            model.trend.last = model.trend.window.points[-1][1]
        model.momentum.points.extend(tuple(p) for p in state["momentum"][1])
        model.vol = Volatility.from_state(state["vol"])
        model.board = Scoreboard.from_state(state["board"], HORIZONS, fee_bps=config.fee_bps)
        model.forecaster = Forecaster.from_state(state["forecaster"], config.forecast)
        model.first = (float(state["first"][0]), float(state["first"][1])) if state["first"] else None
        model.last_t = state["last_t"] if state["last_t"] is not None else -math.inf
        model.ticks = state["ticks"]
        return model
