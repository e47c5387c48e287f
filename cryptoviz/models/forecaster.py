"""The headline forecast of one symbol: a point, 80 % and 90 % intervals, P(up) and the expected
size of the move, per horizon, all learnt walk-forward from outcomes already known.

Units: a move over horizon h is measured in "sigmas", z = log(P_{t+h} / P_t) / (sigma sqrt(h)),
sigma being the EWMA hourly volatility at t (`EwmaVariance`), h in hours. Per horizon:
- point: an online ridge (`OnlineRidge`, older outcomes fading) of z on three features known at t,
  each in sigmas: the seed's consensus move, the last hour's move and the distance from the moving
  average. With no skill in the features the coefficients shrink to 0 and the point to persistence.
- intervals: the empirical quantiles of the point's past residuals (in sigmas), kept per volatility
  regime (`DecayedHistogram`), at a level an adaptive conformal correction (`AdaptiveLevel`, per
  regime and level) moves after each outcome so that the misses come to the nominal share. A
  regime with too few residuals of its own (a rare one, early on) takes every regime's together.
- regime: where today's sigma falls among the past months' sigmas (walk-forward terciles): low,
  mid or high. Calm hours are followed by relatively larger moves than busy ones (volatility mean
  reverts), so each regime learns its own residual spread.
- P(up): the share of past residuals above -point (the same histogram): the probability that the
  price is higher at the horizon, under the residuals seen so far in this regime.
- expected move: E|log move| = c_h sigma sqrt(h), c_h a fading mean of the realised ratio (the
  volatility forecast, for 1 h, 6 h and 24 h).

An outcome is learnt from (`learn`) only when its horizon has passed; `forecast` at t reads only
what was learnt before. Everything is O(1) per tick (O(bins), a constant, for the quantiles).

Cadence: each outcome weighs the hours it stands for (`observation_weight` of the time since the
previous outcome's due time), each sigma the hours since the previous tick; half-lives, priors and
MIN_RESIDUALS are in hours. Hourly rows and minute quotes over the same days teach the same.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from cryptoviz.models import HORIZONS, HOUR
from cryptoviz.models.estimators import (
    AdaptiveLevel,
    BinnedRate,
    DecayedHistogram,
    OnlineRidge,
    observation_weight,
)
from cryptoviz.models.fading import EwmaVariance, FadingMean
from cryptoviz.models.moves import MoveForecaster

LEVELS = {"80": 0.2, "90": 0.1}  # interval name -> nominal miscoverage
REGIMES = ("low", "mid", "high")
NORMAL_Z = {"80": 1.2816, "90": 1.6449}  # before a regime has residuals of its own
FEATURES = ("consensus", "last_move", "ma_distance")
MIN_RESIDUALS = 50.0  # hours of residuals a histogram needs before its quantiles are used
POOLED = len(REGIMES)  # the residual histogram of every regime together
SHRINKS = (0.0, 0.25, 0.5, 0.75, 1.0)  # fractions of the ridge's move the point may take
SHRINK_T = 2.0
P_BLENDS = (0.0, 0.5, 1.0)  # fractions of the binned rate's departure from the base rate
CLIP = 8.0  # features and outcomes in sigmas are clipped to +-CLIP (a bad tick must not teach much)


@dataclass(frozen=True)
class ForecastConfig:
    """Half-lives in hours (of ticks for the regimes, of outcomes for the rest)."""

    vol_halflife_h: float = 24.0
    regime_halflife: float = 24 * 90  # the sigma history regimes are cut from
    ridge_halflife: float = 24 * 120
    ridge_penalty_per_h: float = 200.0  # x sqrt(horizon in hours): longer horizons shrink harder
    p_up_edges: tuple[float, ...] = (0.44, 0.47, 0.49, 0.5, 0.51, 0.53, 0.56)
    p_up_prior_per_h: float = 200.0  # hours of outcomes, x horizon in hours: overlapping ones teach less
    p_up_halflife: float = 24 * 180
    residual_halflife: float = 24 * 120
    aci_gamma: float = 0.005
    move_halflife: float = 24 * 60
    vol_long_halflife_h: float = 24 * 30
    vol_quick_halflife_h: float = 4.0
    shrink_halflife: float = 24 * 180


@dataclass(frozen=True, slots=True)
class Forecast:
    point: float
    intervals: dict[str, tuple[float, float]]  # "80"/"90" -> (low, high) prices
    p_up: float
    p_raw: float  # the share of past residuals above -point, before the calibration map
    regime: int  # index into REGIMES
    sigma: float  # hourly volatility used (fraction of price)
    features: tuple[float, ...]
    z_point: float  # the point's move in sigmas
    z_ridge: float  # the ridge's move in sigmas (the point takes a fraction of it)

    def to_list(self) -> list:
        """Compact and JSON-able (a scoreboard keeps one per pending prediction)."""
        lows_highs = [v for name in LEVELS for v in self.intervals[name]]
        return [
            self.point,
            *lows_highs,
            self.p_up,
            self.p_raw,
            self.regime,
            self.sigma,
            *self.features,
            self.z_point,
            self.z_ridge,
        ]

    @classmethod
    def from_list(cls, v: list) -> Forecast:
        k = 2 * len(LEVELS)
        intervals = {name: (v[1 + 2 * i], v[2 + 2 * i]) for i, name in enumerate(LEVELS)}
        f = len(FEATURES)
        rest = v[1 + k :]
        return cls(
            v[0],
            intervals,
            rest[0],
            rest[1],
            int(rest[2]),
            rest[3],
            tuple(rest[4 : 4 + f]),
            rest[4 + f],
            rest[5 + f],
        )


def _clip(x: float) -> float:
    return max(-CLIP, min(CLIP, x))


class HorizonForecaster:
    """Point, intervals and P(up) for one horizon."""

    def __init__(self, horizon_s: float, cfg: ForecastConfig) -> None:
        self.horizon_s = horizon_s
        self.last_due = -math.inf  # the due time of the last outcome learnt from
        penalty = cfg.ridge_penalty_per_h * math.sqrt(horizon_s / HOUR)
        self.ridge = OnlineRidge(len(FEATURES), cfg.ridge_halflife, penalty)
        self.p_up = BinnedRate(cfg.p_up_edges, cfg.p_up_halflife, cfg.p_up_prior_per_h * horizon_s / HOUR)
        # per fraction k of the ridge's move: the fading mean of (persistence's absolute error -
        # k's), in % of price
        self.shrink_gains = [FadingMean(cfg.shrink_halflife) for _ in SHRINKS]
        self.p_up_briers = [FadingMean(cfg.shrink_halflife) for _ in P_BLENDS]
        self.residuals = [
            DecayedHistogram(-CLIP - 2, CLIP + 2, 400, cfg.residual_halflife) for _ in range(POOLED + 1)
        ]
        self.levels = [{name: AdaptiveLevel(a, cfg.aci_gamma) for name, a in LEVELS.items()} for _ in REGIMES]

    def forecast(self, price: float, sigma: float, regime: int, features: tuple[float, ...]) -> Forecast:
        scale = sigma * math.sqrt(self.horizon_s / HOUR)
        z_ridge = self.ridge.predict(features)
        z = SHRINKS[self._shrink()] * z_ridge
        hist = self._residuals(regime)
        intervals: dict[str, tuple[float, float]] = {}
        if hist is not None:
            probs: list[float] = []
            for level in self.levels[regime].values():
                probs += [level.alpha / 2, 1 - level.alpha / 2]
            qs = hist.quantiles(sorted(probs))
            by_prob = dict(zip(sorted(probs), qs, strict=True))
            for name, level in self.levels[regime].items():
                lo, hi = by_prob[level.alpha / 2], by_prob[1 - level.alpha / 2]
                intervals[name] = (price * math.exp((z + lo) * scale), price * math.exp((z + hi) * scale))
            raw = 1.0 - hist.cdf(-z)
            p_up = self._p_up(raw)
        else:
            raw = 0.5
            for name, q in NORMAL_Z.items():
                intervals[name] = (price * math.exp((z - q) * scale), price * math.exp((z + q) * scale))
            p_up = 0.5
        return Forecast(
            price * math.exp(z * scale), intervals, p_up, raw, regime, sigma, features, z, z_ridge
        )

    def _residuals(self, regime: int) -> DecayedHistogram | None:
        """The regime's residuals, every regime's while it has too few, None while they have too."""
        for hist in (self.residuals[regime], self.residuals[POOLED]):
            if hist.weight >= MIN_RESIDUALS:
                return hist
        return None

    def learnt(self, regime: int) -> bool:
        """Whether a forecast in `regime` takes its intervals and P(up) from what was learnt (the
        regime's residuals, or every regime's), not from the normal placeholder."""
        return self._residuals(regime) is not None

    def _shrink(self) -> int:
        """The fraction of the ridge's move that has beaten persistence by the most, among those
        whose advantage has a t statistic above SHRINK_T (overlapping outcomes counted once per
        horizon); persistence (0) when none has: noise alone never moves the point."""
        best, best_gain = 0, 0.0
        for i, gain in enumerate(self.shrink_gains):
            mean = gain.value()
            if mean is not None and mean > best_gain and gain.t_stat() > SHRINK_T:
                best, best_gain = i, mean
        return best

    def _p_up(self, raw: float) -> float:
        """The calibrated P(up): the fraction of (binned rate - base rate) with the least fading
        Brier score (0: the base rate), again walk-forward."""
        binned, base = self.p_up.rate(raw), self.p_up.base_rate()
        scores = [m.value() for m in self.p_up_briers]
        k = 0 if any(v is None for v in scores) else min(range(len(P_BLENDS)), key=lambda i: (scores[i], i))
        return base + P_BLENDS[k] * (binned - base)

    def learn(self, due: float, base: float, fc: Forecast, outcome: float) -> None:
        """Learn from the outcome of the forecast made at `base` and due at `due`."""
        w = observation_weight(due - self.last_due)
        self.last_due = due
        span_h = self.horizon_s / HOUR
        scale = fc.sigma * math.sqrt(span_h)
        z = _clip(math.log(outcome / base) / scale)
        self.ridge.add(fc.features, z, w)
        self.residuals[fc.regime].add(z - fc.z_point, w)
        self.residuals[POOLED].add(z - fc.z_point, w)
        up = outcome > base
        binned, rate = self.p_up.rate(fc.p_raw), self.p_up.base_rate()  # the map before this outcome
        for k, brier in zip(P_BLENDS, self.p_up_briers, strict=True):
            brier.add((rate + k * (binned - rate) - up) ** 2, w, span_h)
        self.p_up.add(fc.p_raw, up, w)
        for k, gain in zip(SHRINKS, self.shrink_gains, strict=True):
            gain.add((abs(z) - abs(z - k * fc.z_ridge)) * scale * 100, w, span_h)
        for name, level in self.levels[fc.regime].items():
            lo, hi = fc.intervals[name]
            level.update(not lo <= outcome <= hi, w)

    def to_state(self) -> dict:
        return {
            "last_due": self.last_due if math.isfinite(self.last_due) else None,
            "ridge": self.ridge.to_state(),
            "p_up": self.p_up.to_state(),
            "shrink_gains": [m.to_state() for m in self.shrink_gains],
            "p_up_briers": [m.to_state() for m in self.p_up_briers],
            "residuals": [h.to_state() for h in self.residuals],
            "levels": [{n: lv.to_state() for n, lv in levels.items()} for levels in self.levels],
        }

    def load(self, state: dict) -> None:
        self.last_due = state["last_due"] if state["last_due"] is not None else -math.inf
        self.ridge = OnlineRidge.from_state(state["ridge"])
        self.p_up = BinnedRate.from_state(state["p_up"])
        self.shrink_gains = [FadingMean.from_state(m) for m in state["shrink_gains"]]
        self.p_up_briers = [FadingMean.from_state(m) for m in state["p_up_briers"]]
        self.residuals = [DecayedHistogram.from_state(s) for s in state["residuals"]]
        self.levels = [{n: AdaptiveLevel.from_state(s) for n, s in lv.items()} for lv in state["levels"]]


class Forecaster:
    """Per symbol: the volatility, its regime, a HorizonForecaster per horizon, and the expected
    absolute moves (`moves.MoveForecaster`, with its own queue of outcomes to learn from)."""

    def __init__(self, cfg: ForecastConfig | None = None) -> None:
        self.cfg = cfg = cfg or ForecastConfig()
        self.vol = EwmaVariance(cfg.vol_halflife_h)
        self.sigmas = DecayedHistogram(-12.0, 0.0, 240, cfg.regime_halflife)  # log sigma
        self.recent: deque[tuple[float, float]] = deque()  # (t, price) over the last hour and one tick
        self.horizons = {h: HorizonForecaster(s, cfg) for h, s in HORIZONS.items()}
        self.moves = MoveForecaster(cfg.vol_long_halflife_h, cfg.move_halflife, cfg.vol_quick_halflife_h)

    def tick(self, t: float, price: float) -> None:
        self.vol.update(t, price)
        self.moves.tick(t, price)
        w = observation_weight(t - self.recent[-1][0]) if self.recent else 1.0
        self.recent.append((t, price))
        while len(self.recent) > 2 and self.recent[1][0] <= t - HOUR:
            self.recent.popleft()
        sigma = self.vol.hourly()
        if sigma:
            self.sigmas.add(math.log(sigma), w)

    def sigma(self) -> float | None:
        return self.vol.hourly()

    def last_move(self) -> tuple[float, float]:
        """(log return, seconds it spans) from the tick about an hour ago (at most an hour ago
        unless only older ones exist) to the latest; (0, 1 h) before two ticks."""
        if len(self.recent) < 2:
            return (0.0, HOUR)
        (t0, p0), (t1, p1) = self.recent[0], self.recent[-1]
        return (math.log(p1 / p0), t1 - t0)

    def regime(self, sigma: float) -> int:
        if self.sigmas.weight < MIN_RESIDUALS:
            return 1
        u = self.sigmas.cdf(math.log(sigma))
        return 0 if u < 1 / 3 else (1 if u < 2 / 3 else 2)

    def features(
        self, price: float, sigma: float, h: str, consensus: float, ma: float | None
    ) -> tuple[float, ...]:
        scale = sigma * math.sqrt(HORIZONS[h] / HOUR)
        r, span = self.last_move()
        last = r / (sigma * math.sqrt(max(span, 1.0) / HOUR))
        dist = math.log(price / ma) / scale if ma else 0.0
        # a trend extrapolated below zero (a steep fall over dense ticks) is as far down as a feature goes
        seed = math.log(consensus / price) / scale if consensus > 0 else -CLIP
        return (_clip(seed), _clip(last), _clip(dist))

    def forecast(
        self, price: float, consensus: dict[str, float], ma: dict[str, float | None]
    ) -> dict[str, Forecast]:
        """horizon -> Forecast; {} until there is a volatility."""
        sigma = self.sigma()
        if not sigma:
            return {}
        regime = self.regime(sigma)
        return {
            h: hf.forecast(price, sigma, regime, self.features(price, sigma, h, consensus[h], ma[h]))
            for h, hf in self.horizons.items()
        }

    def learn(self, h: str, due: float, base: float, fc: Forecast, outcome: float) -> None:
        self.horizons[h].learn(due, base, fc, outcome)

    # --- the volatility forecast (cryptoviz.models.moves) -----------------------------------------
    def expected_moves(self, t: float, price: float) -> dict[str, float]:
        sigma = self.sigma()
        return self.moves.expected(t, price, sigma) if sigma else {}

    def settle_moves(self, t: float, price: float, tolerance: float) -> list[tuple[str, float, float]]:
        return self.moves.settle(t, price, tolerance)

    def to_state(self) -> dict:
        return {
            "vol": self.vol.to_state(),
            "sigmas": self.sigmas.to_state(),
            "recent": [list(p) for p in self.recent],
            "horizons": {h: hf.to_state() for h, hf in self.horizons.items()},
            "moves": self.moves.to_state(),
        }

    @classmethod
    def from_state(cls, state: dict, cfg: ForecastConfig | None = None) -> Forecaster:
        f = cls(cfg)
        f.vol = EwmaVariance.from_state(state["vol"])
        f.sigmas = DecayedHistogram.from_state(state["sigmas"])
        f.recent.extend((float(a), float(b)) for a, b in state["recent"])
        for h, s in state["horizons"].items():
            if h in f.horizons:
                f.horizons[h].load(s)
        f.moves.load(state["moves"])
        return f
