"""Running tallies the scoreboard keeps per horizon, each O(1) per scored prediction (O(L) for
the HAC mean, L a small constant), each with a JSON-able state."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

from cryptoviz.models.estimators import Row
from cryptoviz.scoring.stats import newey_west_t, wilson
from cryptoviz.scoring.summary import Hits, IntervalScore, MoveScore, ProbabilityScore

HOUR = 3600.0
REGIMES = ("low", "mid", "high")
RELIABILITY_BINS = 10


class HacMean:
    """The mean of a series of outcomes and a Newey-West t statistic of it.

    Outcomes whose horizons overlap are far from independent, and the closer they come the more so:
    sixty minute outcomes of an hour's move share most of it. So the t statistic is taken over the
    means of hour buckets of outcomes (by due time; one outcome each at hourly cadence) with `lags`
    lags, from the horizon in hours, whatever the cadence: running sums of the lag-k cross products,
    the total, the first `lags` bucket means and the last `lags`. The mean itself is every outcome's."""

    def __init__(self, lags: int) -> None:
        self.lags = lags
        self.n = 0  # buckets closed
        self.total = 0.0
        self.squares = 0.0
        self.cross = [0.0] * (lags + 1)  # cross[k] = sum_t x_t x_{t-k}, k >= 1
        self.first: list[float] = []
        self.recent: deque[float] = deque(maxlen=lags)
        self.values = 0  # outcomes
        self.values_total = 0.0
        self.bucket = [0.0, 0.0, 0.0]  # the open bucket: its hour, sum and count

    def add(self, x: float, due: float) -> None:
        hour = float(math.floor(due / HOUR))
        key, total, count = self.bucket
        if count and hour != key:
            self._push(total / count)
            total, count = 0.0, 0.0
        self.bucket = [hour, total + x, count + 1]
        self.values += 1
        self.values_total += x

    def _push(self, x: float) -> None:
        for k, prev in enumerate(reversed(self.recent), start=1):
            self.cross[k] += x * prev
        self.n += 1
        self.total += x
        self.squares += x * x
        if len(self.first) < self.lags:
            self.first.append(x)
        self.recent.append(x)

    def mean(self) -> float | None:
        return self.values_total / self.values if self.values else None

    def t_stat(self) -> float | None:
        """Over the closed buckets; None until there are more than lags + 1."""
        n = self.n
        if n <= self.lags + 1:
            return None
        m = self.total / n
        gammas = [self.squares / n - m * m]
        first_k = last_k = 0.0  # the sums of the first k and of the last k values, k = 1..lags
        for k, (a, b) in enumerate(zip(self.first, reversed(self.recent), strict=True), start=1):
            first_k += a
            last_k += b
            tail, head = self.total - first_k, self.total - last_k  # sums of x_t, t > k and t <= n - k
            gammas.append((self.cross[k] - m * (tail + head) + (n - k) * m * m) / n)
        return newey_west_t(m, gammas, n)

    def to_state(self) -> list:
        return [
            self.lags,
            self.n,
            self.total,
            self.squares,
            self.cross,
            self.first,
            list(self.recent),
            [self.values, self.values_total, *self.bucket],
        ]

    @staticmethod
    def block_width(max_lags: int) -> int:
        """n, total, squares, first count, cross[0..L], first[L], recent[L] (a ring: value j at slot
        j % lags), L = max_lags, then the outcomes' count and total and the open bucket."""
        return 4 + 3 * max_lags + 1 + 5

    def to_block(self, row: Row, o: int, max_lags: int) -> None:
        lags = self.lags
        row[o : o + 4] = [self.n, self.total, self.squares, len(self.first)]
        row[o + 4 : o + 5 + lags] = self.cross
        row[o + 5 + lags : o + 5 + lags + len(self.first)] = self.first
        start = self.n - len(self.recent)
        for k, x in enumerate(self.recent):
            row[o + 5 + 2 * lags + (start + k) % lags] = x
        values = o + 4 + 3 * max_lags + 1
        row[values : values + 5] = [self.values, self.values_total, *self.bucket]

    @classmethod
    def from_block(cls, v: Sequence[float], o: int, lags: int, max_lags: int) -> HacMean:
        h = cls(lags)
        n, first_n = int(v[o]), int(v[o + 3])
        h.n, h.total, h.squares = n, v[o + 1], v[o + 2]
        h.cross = list(v[o + 4 : o + 5 + lags])
        h.first = list(v[o + 5 + lags : o + 5 + lags + first_n])
        ring = list(v[o + 5 + 2 * lags : o + 5 + 3 * lags])
        start = n % lags  # the ring's oldest of the last `lags` values, once it is full
        h.recent.extend(ring[start:] + ring[:start] if n >= lags else ring[:n])
        values = o + 4 + 3 * max_lags + 1
        h.values, h.values_total = int(v[values]), v[values + 1]
        h.bucket = list(v[values + 2 : values + 5])
        return h

    @classmethod
    def from_state(cls, state: list) -> HacMean:
        lags, n, total, squares, cross, first, recent, values = state
        h = cls(lags)
        h.n, h.total, h.squares, h.cross, h.first = n, total, squares, list(cross), list(first)
        h.recent.extend(recent)
        h.values, h.values_total = int(values[0]), values[1]
        h.bucket = [float(v) for v in values[2:]]
        return h


class IntervalTally:
    """One interval level: coverage, mean width and the interval (Winkler) score, in % of the
    price the forecast was made at, and coverage per volatility regime."""

    def __init__(self, alpha: float) -> None:
        self.alpha = alpha
        self.n = 0
        self.covered = 0
        self.width = 0.0
        self.score = 0.0
        self.by_regime = [[0, 0] for _ in REGIMES]  # [n, covered]

    def add(self, low: float, high: float, outcome: float, base: float, regime: int) -> None:
        inside = low <= outcome <= high
        penalty = (2 / self.alpha) * (max(0.0, low - outcome) + max(0.0, outcome - high))
        self.n += 1
        self.covered += inside
        self.width += (high - low) / base * 100
        self.score += (high - low + penalty) / base * 100
        self.by_regime[regime][0] += 1
        self.by_regime[regime][1] += inside

    def summary(self) -> IntervalScore:
        n = self.n
        return {
            "coverage": self.covered / n if n else None,
            "n": n,
            "mean_width_pct": self.width / n if n else None,
            "interval_score": self.score / n if n else None,
            "by_regime": {
                name: {"coverage": c / k if k else None, "n": k}
                for name, (k, c) in zip(REGIMES, self.by_regime, strict=True)
            },
        }

    def to_state(self) -> list:
        return [self.alpha, self.n, self.covered, self.width, self.score, self.by_regime]

    WIDTH = 4 + 2 * len(REGIMES)  # its block: n, covered, width, score, [n, covered] per regime

    def to_block(self, row: Row, o: int) -> None:
        row[o : o + 4] = [self.n, self.covered, self.width, self.score]
        row[o + 4 : o + self.WIDTH] = [v for pair in self.by_regime for v in pair]

    @classmethod
    def from_block(cls, v: Sequence[float], o: int, alpha: float) -> IntervalTally:
        t = cls(alpha)
        t.n, t.covered, t.width, t.score = int(v[o]), int(v[o + 1]), v[o + 2], v[o + 3]
        t.by_regime = [[int(v[o + 4 + 2 * r]), int(v[o + 5 + 2 * r])] for r in range(len(REGIMES))]
        return t

    @classmethod
    def from_state(cls, state: list) -> IntervalTally:
        alpha, n, covered, width, score, by_regime = state
        t = cls(alpha)
        t.n, t.covered, t.width, t.score, t.by_regime = n, covered, width, score, [list(r) for r in by_regime]
        return t


class ProbabilityTally:
    """P(up) against what happened: the Brier score, the Brier score of the base rate known when
    the forecast was made, and a reliability table (10 bins of the forecast probability)."""

    def __init__(self) -> None:
        self.n = 0
        self.brier = 0.0
        self.brier_base = 0.0
        self.bins = [[0, 0.0, 0] for _ in range(RELIABILITY_BINS)]  # [n, sum p, ups]

    def add(self, p: float, base_rate: float, up: bool) -> None:
        self.n += 1
        self.brier += (p - up) ** 2
        self.brier_base += (base_rate - up) ** 2
        b = self.bins[min(RELIABILITY_BINS - 1, int(p * RELIABILITY_BINS))]
        b[0] += 1
        b[1] += p
        b[2] += up

    def summary(self) -> ProbabilityScore:
        n = self.n
        return {
            "brier": self.brier / n if n else None,
            "brier_base_rate": self.brier_base / n if n else None,
            "n": n,
            "reliability": [
                {
                    "bin": f"{i / RELIABILITY_BINS:.1f}-{(i + 1) / RELIABILITY_BINS:.1f}",
                    "n": int(k),
                    "p_mean": s / k if k else None,
                    "observed": ups / k if k else None,
                }
                for i, (k, s, ups) in enumerate(self.bins)
            ],
        }

    def to_state(self) -> list:
        return [self.n, self.brier, self.brier_base, self.bins]

    WIDTH = 3 + 3 * RELIABILITY_BINS  # its block: n, brier, brier of the base rate, [n, sum p, ups] per bin

    def to_block(self, row: Row, o: int) -> None:
        row[o : o + 3] = [self.n, self.brier, self.brier_base]
        row[o + 3 : o + self.WIDTH] = [v for b in self.bins for v in b]

    @classmethod
    def from_block(cls, v: Sequence[float], o: int) -> ProbabilityTally:
        t = cls()
        t.n, t.brier, t.brier_base = int(v[o]), v[o + 1], v[o + 2]
        b = o + 3
        t.bins = [
            [int(v[b + 3 * k]), v[b + 3 * k + 1], int(v[b + 3 * k + 2])] for k in range(RELIABILITY_BINS)
        ]
        return t

    @classmethod
    def from_state(cls, state: list) -> ProbabilityTally:
        t = cls()
        t.n, t.brier, t.brier_base, bins = state
        t.bins = [list(b) for b in bins]
        return t


class HitTally:
    """Directional calls: how many, how many right (with a Wilson interval over the independent
    ones) and their mean return net of `fee_pct` (in % of the price when called)."""

    def __init__(self) -> None:
        self.n = 0
        self.hits = 0
        self.net = 0.0

    def add(self, right: bool, net_pct: float = 0.0) -> None:
        self.n += 1
        self.hits += right
        self.net += net_pct

    def summary(self, independent: float = 1.0) -> Hits:
        """`independent`: the share of the calls independent of each other (their interval's)."""
        ci = wilson(self.hits * independent, self.n * independent)
        return {
            "n": self.n,
            "hit_rate": self.hits / self.n if self.n else None,
            "hit_rate_ci": list(ci) if ci else None,
            "mean_net_return_pct": self.net / self.n if self.n else None,
        }

    def to_state(self) -> list:
        return [self.n, self.hits, self.net]

    WIDTH = 3  # its block: n, hits, net

    def to_block(self, row: Row, o: int) -> None:
        row[o : o + 3] = [self.n, self.hits, self.net]

    @classmethod
    def from_block(cls, v: Sequence[float], o: int) -> HitTally:
        t = cls()
        t.n, t.hits, t.net = int(v[o]), int(v[o + 1]), v[o + 2]
        return t

    @classmethod
    def from_state(cls, state: list) -> HitTally:
        t = cls()
        t.n, t.hits, t.net = state
        return t


class MoveTally:
    """The expected absolute move against the realised one: out-of-sample R^2 against a constant,
    the mean of the moves realised before each one (walk-forward, like the forecast)."""

    def __init__(self) -> None:
        self.n = 0
        self.sse = 0.0
        self.sse_constant = 0.0
        self.realised = 0.0
        self.seen = 0

    def add(self, expected: float, realised: float) -> None:
        if self.seen:
            constant = self.realised / self.seen
            self.n += 1
            self.sse += (realised - expected) ** 2
            self.sse_constant += (realised - constant) ** 2
        self.realised += realised
        self.seen += 1

    def summary(self) -> MoveScore:
        return {
            "r2": 1 - self.sse / self.sse_constant if self.sse_constant > 0 else None,
            "n": self.n,
            "mean_abs_move_pct": self.realised / self.seen if self.seen else None,
        }

    def to_state(self) -> list:
        return [self.n, self.sse, self.sse_constant, self.realised, self.seen]

    WIDTH = 6  # its block: present (0: no tally yet), n, sse, sse of the constant, realised, seen

    def to_block(self, row: Row, o: int) -> None:
        row[o : o + 6] = [1.0, self.n, self.sse, self.sse_constant, self.realised, self.seen]

    @classmethod
    def from_block(cls, v: Sequence[float], o: int) -> MoveTally | None:
        if not v[o]:
            return None
        t = cls()
        t.n, t.sse, t.sse_constant, t.realised, t.seen = (
            int(v[o + 1]),
            v[o + 2],
            v[o + 3],
            v[o + 4],
            int(v[o + 5]),
        )
        return t

    @classmethod
    def from_state(cls, state: list) -> MoveTally:
        t = cls()
        t.n, t.sse, t.sse_constant, t.realised, t.seen = state
        return t
