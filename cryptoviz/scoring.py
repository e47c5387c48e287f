"""Scoring predictions when their horizon passes: shared by the live processor and the backtest.

Each prediction is kept with its due time (event time). The first tick at or after the due time
scores it against that tick's price, if the tick is within `tolerance` of the due time; otherwise
it expired (a gap in the data) and is counted as such, never scored against a far-off price.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

SCORED = ("moving_average", "linear_trend", "momentum", "consensus", "persistence", "drift")
BUCKETS = (0.0, 0.2, 0.4, 0.6, 0.8)  # lower edges of the confidence buckets


@dataclass(frozen=True, slots=True)
class Metrics:
    n: int
    mae: float
    mape: float
    hit_rate: float | None  # None when no prediction had a direction (persistence)
    n_direction: int

    def to_dict(self) -> dict:
        return {
            "n": self.n,
            "mae": self.mae,
            "mape": self.mape,
            "hit_rate": self.hit_rate,
            "n_direction": self.n_direction,
        }


def metrics(*, n: int, sum_abs_err: float, sum_abs_pct_err: float, n_direction: int, hits: int) -> Metrics:
    """Mean absolute error, mean absolute percentage error and directional hit rate from sums."""
    if n <= 0:
        raise ValueError("no scored predictions")
    hit_rate = hits / n_direction if n_direction else None
    return Metrics(n, sum_abs_err / n, sum_abs_pct_err / n * 100, hit_rate, n_direction)


def bucket_of(confidence: float) -> int:
    for i in range(len(BUCKETS) - 1, -1, -1):
        if confidence >= BUCKETS[i]:
            return i
    return 0


class Scoreboard:
    """Pending predictions per horizon and running error sums per (horizon, model)."""

    def __init__(self, horizons: dict[str, float], tolerance: float = 0.25) -> None:
        self.horizons = horizons
        self.tolerance = tolerance
        # pending entry: [due_t, base_price, predictions in SCORED order, signal direction, confidence]
        self.pending: dict[str, deque[list]] = {h: deque() for h in horizons}
        # sums: [n, sum_abs_err, sum_abs_pct_err, n_direction, hits]
        self.sums: dict[str, dict[str, list[float]]] = {
            h: {m: [0, 0.0, 0.0, 0, 0] for m in SCORED} for h in horizons
        }
        # per confidence bucket: [n, hits, sum of signed returns following the signal's direction]
        self.buckets: dict[str, list[list[float]]] = {h: [[0, 0, 0.0] for _ in BUCKETS] for h in horizons}
        self.expired = dict.fromkeys(horizons, 0)
        self.scored = 0

    def record(self, t: float, base: float, predictions: dict[str, dict[str, float]], signals: dict) -> None:
        for h, horizon_s in self.horizons.items():
            preds = predictions[h]
            sig = signals[h]
            direction = (sig.move_pct > 0) - (sig.move_pct < 0)
            self.pending[h].append(
                [t + horizon_s, base, [preds[m] for m in SCORED], direction, sig.confidence]
            )

    def on_tick(self, t: float, price: float) -> int:
        """Score every pending prediction due at or before `t`; returns how many were scored."""
        scored = 0
        for h, horizon_s in self.horizons.items():
            queue = self.pending[h]
            late_limit = horizon_s * self.tolerance
            sums = self.sums[h]
            while queue and queue[0][0] <= t:
                due, base, preds, direction, confidence = queue.popleft()
                if t - due > late_limit:
                    self.expired[h] += 1
                    continue
                actual_move = price - base
                for name, pred in zip(SCORED, preds, strict=True):
                    s = sums[name]
                    err = abs(pred - price)
                    s[0] += 1
                    s[1] += err
                    s[2] += err / price
                    predicted_move = pred - base
                    if predicted_move != 0 and actual_move != 0:
                        s[3] += 1
                        s[4] += (predicted_move > 0) == (actual_move > 0)
                if direction and actual_move != 0:
                    b = self.buckets[h][bucket_of(confidence)]
                    b[0] += 1
                    b[1] += (actual_move > 0) == (direction > 0)
                    b[2] += direction * actual_move / base
                scored += 1
        self.scored += scored
        return scored

    def summary(self) -> dict:
        out: dict = {}
        for h, by_model in self.sums.items():
            out[h] = {}
            for name, s in by_model.items():
                if s[0]:
                    m = metrics(
                        n=int(s[0]),
                        sum_abs_err=s[1],
                        sum_abs_pct_err=s[2],
                        n_direction=int(s[3]),
                        hits=int(s[4]),
                    )
                    out[h][name] = m.to_dict()
            out[h]["signals"] = {
                f"{lo:.1f}-{lo + 0.2:.1f}": {
                    "n": int(b[0]),
                    "hit_rate": b[1] / b[0] if b[0] else None,
                    "mean_return_pct": b[2] / b[0] * 100 if b[0] else None,
                }
                for lo, b in zip(BUCKETS, self.buckets[h], strict=True)
            }
            out[h]["expired"] = self.expired[h]
            out[h]["pending"] = len(self.pending[h])
        return out

    def to_state(self) -> dict:
        return {
            "pending": {h: list(q) for h, q in self.pending.items()},
            "sums": self.sums,
            "buckets": self.buckets,
            "expired": self.expired,
            "scored": self.scored,
        }

    @classmethod
    def from_state(cls, state: dict, horizons: dict[str, float], tolerance: float = 0.25) -> Scoreboard:
        board = cls(horizons, tolerance)
        for h in horizons:
            board.pending[h].extend(state["pending"].get(h, []))
            board.sums[h].update(state["sums"].get(h, {}))
            board.buckets[h] = state["buckets"].get(h, board.buckets[h])
            board.expired[h] = state["expired"].get(h, 0)
        board.scored = state.get("scored", 0)
        return board
