"""Scoring predictions when their horizon passes: shared by the live processor and the backtest.

Each prediction is kept with its due time (event time). The first tick at or after the due time
scores it against that tick's price, if the tick is within `tolerance` of the due time; otherwise
it expired (a gap in the data) and is counted as such, never scored against a far-off price. So a
gap longer than the tolerance (15 min at 1 h, 90 min at 6 h) scores nothing across it, and no
signal is held over it.

Per horizon: MAE / MAPE / hit rate of every model and baseline; each model's skill against
persistence (1 - MAPE / MAPE(persistence): absolute errors in % of price, so years of very
different prices weigh alike) with a Newey-West t statistic; the headline forecast's intervals
(coverage, width, interval score, coverage per volatility regime), its P(up) (Brier score against
the base rate known at the time, reliability table); "always up" as a directional baseline; and
the signals as positions (`HorizonScore.trade`): a run of identical signals is one position, opened
at the first, held until a horizon after the last, scored once net of the round-trip fee, so a hit
rate means the same whether a signal comes every hour or every minute. The expected absolute moves
(the volatility forecast) are scored separately (`score_moves`).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import cast, get_args

from cryptoviz.models.forecaster import LEVELS, Forecast
from cryptoviz.scoring.stats import independent_share, wilson
from cryptoviz.scoring.summary import (
    Baseline,
    HorizonScores,
    Model,
    ModelScore,
    MoveScore,
    Scored,
    ScoreSummary,
    Skill,
)
from cryptoviz.scoring.tallies import HacMean, HitTally, IntervalTally, MoveTally, ProbabilityTally

MODELS: tuple[Model, ...] = get_args(Model)  # moving_average, linear_trend, momentum, consensus, forecast
BASELINES: tuple[Baseline, ...] = get_args(Baseline)  # persistence, drift, reversal
SCORED: tuple[Scored, ...] = (*MODELS, *BASELINES)
_P = SCORED.index("persistence")
TOLERANCE = 0.25  # a prediction is scored by a tick at most this share of its horizon late, else expired


@dataclass(frozen=True, slots=True)
class Metrics:
    n: int
    mae: float
    mape: float
    hit_rate: float | None  # None when no prediction had a direction (persistence)
    n_direction: int


def metrics(*, n: int, sum_abs_err: float, sum_abs_pct_err: float, n_direction: int, hits: int) -> Metrics:
    """Mean absolute error, mean absolute percentage error and directional hit rate from sums."""
    if n <= 0:
        raise ValueError("no scored predictions")
    hit_rate = hits / n_direction if n_direction else None
    return Metrics(n, sum_abs_err / n, sum_abs_pct_err / n * 100, hit_rate, n_direction)


def hac_lags(horizon_s: float) -> int:
    """Newey-West lags for a horizon: twice its length in hours (the t statistic runs over hour
    buckets of outcomes, `HacMean`, so overlapping outcomes of any cadence are counted once an hour)."""
    return max(2, 2 * math.ceil(horizon_s / 3600))


class HorizonScore:
    """Everything scored at one horizon."""

    def __init__(self, horizon_s: float) -> None:
        # per model: [n, sum_abs_err, sum_abs_pct_err, n_direction, hits]
        self.sums: dict[str, list[float]] = {m: [0, 0.0, 0.0, 0, 0] for m in SCORED}
        self.skill = {m: HacMean(hac_lags(horizon_s)) for m in SCORED if m != "persistence"}
        self.intervals = {name: IntervalTally(alpha) for name, alpha in LEVELS.items()}
        self.p_up = ProbabilityTally()
        self.always_up = HitTally()
        self.horizon_s = horizon_s
        self.fired = HitTally()  # positions, each scored once when closed
        self.position = [0.0, 0.0, 0.0]  # the open position: direction (0: none), entry price, exit due
        self.ups = 0  # outcomes settled so far that were up: the base rate the next forecast knows
        self.outcomes = 0
        self.expired = 0

    def base_rate(self) -> float:
        return self.ups / self.outcomes if self.outcomes else 0.5

    def score(self, entry: list, price: float) -> Forecast | None:
        due, base, preds, base_rate, fc_list = entry
        move = price - base
        ape_persistence = abs(preds[_P] - price) / price * 100
        for name, pred in zip(SCORED, preds, strict=True):
            s = self.sums[name]
            err = abs(pred - price)
            s[0] += 1
            s[1] += err
            s[2] += err / price
            predicted_move = pred - base
            if predicted_move != 0 and move != 0:
                s[3] += 1
                s[4] += (predicted_move > 0) == (move > 0)
            if name != "persistence":
                self.skill[name].add(ape_persistence - err / price * 100, due)
        if move != 0:
            self.always_up.add(move > 0)
        fc = Forecast.from_list(fc_list) if fc_list else None
        if fc is not None:
            for level, tally in self.intervals.items():
                low, high = fc.intervals[level]
                tally.add(low, high, price, base, fc.regime)
            self.p_up.add(fc.p_up, base_rate, move > 0)
        self.ups += move > 0
        self.outcomes += 1
        return fc

    def _close(self, price: float, fee_pct: float) -> None:
        direction, entry, _ = self.position
        net = direction * (price - entry) / entry * 100 - fee_pct
        self.fired.add(net > 0, net)  # a hit is a position that made money once the fee is paid
        self.position = [0.0, 0.0, 0.0]

    def trade(self, t: float, price: float, direction: int, late_limit: float, fee_pct: float) -> None:
        """This tick's signal against the open position. A position whose exit has come is closed
        here, unless this signal goes on in its direction (the run goes on); past its exit by more
        than `late_limit` the data has a gap, and it is dropped unscored. Then the same direction
        holds the position a horizon longer, the other closes it here and opens its own, and HOLD
        leaves it to run to its exit."""
        held, _, exit_due = self.position
        if held and t >= exit_due:
            if t - exit_due > late_limit:
                self.position = [0.0, 0.0, 0.0]
                held = 0.0
            elif direction != held:
                self._close(price, fee_pct)
                held = 0.0
        if not direction:
            return
        if held == direction:
            self.position[2] = t + self.horizon_s
            return
        if held:
            self._close(price, fee_pct)
        self.position = [float(direction), price, t + self.horizon_s]

    def independent(self) -> float:
        """The share of this horizon's outcomes independent of each other (`independent_share`), from
        the hours they fell in (the skill's hour buckets, the open one too): 1 at hourly cadence
        and 1 h, 1/6 at 6 h, about 1/60 at 1 h on minute quotes."""
        hac = next(iter(self.skill.values()), None)
        if hac is None:
            return 1.0
        return independent_share(hac.values, hac.n + (1 if hac.bucket[2] else 0), self.horizon_s)

    def summary(self, fee_bps: float) -> HorizonScores:
        scores: dict[str, ModelScore] = {}
        share = self.independent()
        for name, s in self.sums.items():
            if s[0]:
                m = metrics(
                    n=int(s[0]), sum_abs_err=s[1], sum_abs_pct_err=s[2], n_direction=int(s[3]), hits=int(s[4])
                )
                ci = wilson(s[4] * share, s[3] * share)
                scores[name] = {
                    "n": m.n,
                    "mae": m.mae,
                    "mape": m.mape,
                    "hit_rate": m.hit_rate,
                    "n_direction": m.n_direction,
                    "hit_rate_ci": list(ci) if ci else None,
                }
        persistence = scores.get("persistence")
        mape_p = persistence["mape"] if persistence else None
        skill: dict[str, Skill] = {}
        for name, hac in self.skill.items():
            mean = hac.mean()
            skill[name] = {
                "skill": mean / mape_p if mean is not None and mape_p else None,
                "t_stat": hac.t_stat(),
                "n": hac.values,
            }
        out = cast(HorizonScores, scores)  # keyed by the names scored so far, then the rest
        out["skill"] = skill
        out["always_up"] = self.always_up.summary(share)
        out["intervals"] = {name: t.summary() for name, t in self.intervals.items()}
        out["p_up"] = self.p_up.summary()
        out["signals"] = {**self.fired.summary(), "fee_bps": fee_bps}
        out["expired"] = self.expired
        return out

    def to_state(self) -> dict:
        return {
            "horizon_s": self.horizon_s,
            "sums": self.sums,
            "skill": {m: h.to_state() for m, h in self.skill.items()},
            "intervals": {n: t.to_state() for n, t in self.intervals.items()},
            "p_up": self.p_up.to_state(),
            "always_up": self.always_up.to_state(),
            "fired": self.fired.to_state(),
            "position": list(self.position),
            "ups": [self.ups, self.outcomes],
            "expired": self.expired,
        }

    @classmethod
    def from_state(cls, state: dict) -> HorizonScore:
        """Without building the empty tallies first."""
        score = cls.__new__(cls)
        score.sums, score.skill, score.horizon_s = {}, {}, state["horizon_s"]
        score.load(state)
        return score

    def load(self, state: dict) -> None:
        self.sums.update(state["sums"])
        for m, s in state["skill"].items():
            self.skill[m] = HacMean.from_state(s)
        self.intervals = {n: IntervalTally.from_state(s) for n, s in state["intervals"].items()}
        self.p_up = ProbabilityTally.from_state(state["p_up"])
        self.always_up = HitTally.from_state(state["always_up"])
        self.fired = HitTally.from_state(state["fired"])
        self.position = [float(v) for v in state["position"]]
        self.ups, self.outcomes = state["ups"]
        self.expired = state["expired"]


def summarize(
    scores: dict[str, HorizonScore], pending: dict[str, int], moves: dict[str, MoveTally], fee_bps: float
) -> ScoreSummary:
    """A scoreboard's summary: per horizon its scores and how many predictions wait, and the
    volatility forecast's."""
    horizons: dict[str, HorizonScores] = {}
    for h, score in scores.items():
        horizons[h] = score.summary(fee_bps)
        horizons[h]["pending"] = pending[h]
    out = cast(ScoreSummary, horizons)  # keyed by the board's horizons, then the volatility
    volatility: dict[str, MoveScore] = {h: m.summary() for h, m in moves.items()}
    out["volatility"] = volatility
    return out


class Scoreboard:
    """Pending predictions per horizon, scored when due; `settled` holds the forecasts the last
    tick settled, (horizon, due time, base price, Forecast), for the forecaster to learn from."""

    def __init__(
        self, horizons: dict[str, float], tolerance: float = TOLERANCE, fee_bps: float = 10.0
    ) -> None:
        self.horizons = horizons
        self.tolerance = tolerance
        self.fee_bps = fee_bps
        # pending entry: [due_t, base_price, predictions in SCORED order,
        #                 base rate known at the time, Forecast.to_list() or None]
        self.pending: dict[str, deque[list]] = {h: deque() for h in horizons}
        self.scores = {h: HorizonScore(s) for h, s in horizons.items()}
        self.moves: dict[str, MoveTally] = {}
        self.settled: list[tuple[str, float, float, Forecast]] = []
        self.scored = 0

    def record(
        self,
        t: float,
        base: float,
        predictions: dict[str, dict[str, float]],
        directions: dict[str, int],
        forecasts: dict[str, Forecast],
    ) -> None:
        fee_pct = self.fee_bps / 100
        for h, horizon_s in self.horizons.items():
            preds = predictions[h]
            fc = forecasts.get(h)
            score = self.scores[h]
            self.pending[h].append(
                [
                    t + horizon_s,
                    base,
                    [preds[m] for m in SCORED],
                    score.base_rate(),
                    fc.to_list() if fc is not None else None,
                ]
            )
            score.trade(t, base, directions.get(h, 0), horizon_s * self.tolerance, fee_pct)

    def on_tick(self, t: float, price: float) -> int:
        """Score every pending prediction due at or before `t`; returns how many were scored."""
        scored = 0
        self.settled = []
        for h, horizon_s in self.horizons.items():
            queue = self.pending[h]
            late_limit = horizon_s * self.tolerance
            score = self.scores[h]
            while queue and queue[0][0] <= t:
                entry = queue.popleft()
                if t - entry[0] > late_limit:
                    score.expired += 1
                    continue
                fc = score.score(entry, price)
                if fc is not None:
                    self.settled.append((h, entry[0], entry[1], fc))
                scored += 1
        self.scored += scored
        return scored

    def score_moves(self, settled: list[tuple[str, float, float]]) -> None:
        """The volatility forecast: (horizon, expected %, realised %) of each settled move."""
        for h, expected, realised in settled:
            self.moves.setdefault(h, MoveTally()).add(expected, realised)

    def summary(self) -> ScoreSummary:
        pending = {h: len(q) for h, q in self.pending.items()}
        return summarize(self.scores, pending, self.moves, self.fee_bps)

    def to_state(self) -> dict:
        return {
            "pending": {h: list(q) for h, q in self.pending.items()},
            "scores": {h: s.to_state() for h, s in self.scores.items()},
            "moves": {h: m.to_state() for h, m in self.moves.items()},
            "scored": self.scored,
        }

    @classmethod
    def from_state(
        cls, state: dict, horizons: dict[str, float], tolerance: float = TOLERANCE, fee_bps: float = 10.0
    ) -> Scoreboard:
        board = cls(horizons, tolerance, fee_bps)
        for h in horizons:
            board.pending[h].extend(state["pending"].get(h, []))
            if h in state["scores"]:
                board.scores[h].load(state["scores"][h])
        board.moves = {h: MoveTally.from_state(m) for h, m in state.get("moves", {}).items()}
        board.scored = state.get("scored", 0)
        return board
