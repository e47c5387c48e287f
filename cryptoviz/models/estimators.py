"""Small online estimators, each O(1) (or O(bins), a constant) per update, each with a snapshot
(the fading averages are in `fading`).

They learn only from what they are given, in order: the forecaster feeds them an outcome when its
horizon has passed, so whatever they answer at time t was learnt from outcomes known before t.

Every observation comes with a weight `w`: the hours of data it stands for (`observation_weight`:
the time since the previous one, at most an hour). An hourly row weighs 1 and a minute quote 1/60,
so sixty minute quotes teach what one hourly row does, and a half-life (`halflife`, in hours) or a
prior (in hours' worth of observations) means the same at any cadence. Old observations fade with
that half-life, so the estimators follow a market whose behaviour drifts, and their state stays a
fixed size.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from itertools import accumulate
from typing import Any

# A symbol's row of the compiled core's state (`layout`): a float64 array, or a list of it. Each
# estimator writes itself into its block of the row (`to_block`) and reads itself back
# (`load_block`), so the book's mapping between the two is one call per estimator.
Row = Any

RESCALE_AT = 1e100  # growing weights are brought back to 1 before they overflow
HOUR = 3600.0


def observation_weight(dt_s: float) -> float:
    """The weight of an observation made `dt_s` seconds after the one before it: the hours it stands
    for, at most one (a gap is no reason to weigh one observation more)."""
    return min(max(dt_s, 0.0), HOUR) / HOUR


class DecayedHistogram:
    """Weighted quantiles and CDF of a stream over fixed bins, older values fading.

    Before each new value g grows by 1/decay^w, and the value is counted with weight w g: the same
    as fading every older weight by decay^w (renormalised when g gets large), so an update is O(1)
    and a query O(bins). Values outside [lo, hi] are counted in the edge bins. Quantiles interpolate
    linearly within a bin, so they are exact to a bin's width."""

    __slots__ = ("counts", "decay", "g", "hi", "lo", "total", "width")

    def __init__(self, lo: float, hi: float, bins: int, halflife: float) -> None:
        self.lo, self.hi = lo, hi
        self.width = (hi - lo) / bins
        self.counts = [0.0] * bins
        self.decay = 0.5 ** (1.0 / halflife)
        self.g = 1.0
        self.total = 0.0

    def add(self, x: float, w: float = 1.0) -> None:
        self.g /= self.decay**w
        if self.g > RESCALE_AT:
            scale = 1.0 / self.g
            self.counts = [c * scale for c in self.counts]
            self.total *= scale
            self.g = 1.0
        i = min(len(self.counts) - 1, max(0, int((x - self.lo) / self.width)))
        self.counts[i] += w * self.g
        self.total += w * self.g

    @property
    def weight(self) -> float:
        """The hours of observations behind the histogram (the faded weights summed)."""
        return self.total / self.g

    def quantiles(self, probs: Sequence[float]) -> list[float]:
        """The values below which each fraction of the weight lies."""
        if self.total <= 0:
            raise ValueError("no observations")
        cum = list(accumulate(self.counts))
        total = cum[-1]
        out: list[float] = []
        for p in probs:
            target = p * total
            i = bisect_left(cum, target)
            if i >= len(cum):
                out.append(self.hi)
                continue
            below = cum[i - 1] if i else 0.0
            inside = cum[i] - below
            out.append(self.lo + (i + ((target - below) / inside if inside > 0 else 0.0)) * self.width)
        return out

    def cdf(self, x: float) -> float:
        """The fraction of the weight below x."""
        if self.total <= 0:
            return 0.5
        pos = (x - self.lo) / self.width
        i = min(len(self.counts) - 1, max(0, int(pos)))
        below = sum(self.counts[:i]) + self.counts[i] * min(1.0, max(0.0, pos - i))
        return below / self.total

    def to_state(self) -> list:
        return [self.lo, self.hi, len(self.counts), self.decay, self.g, self.total, self.counts]

    @property
    def block_width(self) -> int:
        return 2 + len(self.counts)  # g, total, counts

    def to_block(self, row: Row, o: int) -> None:
        row[o], row[o + 1] = self.g, self.total
        row[o + 2 : o + self.block_width] = self.counts

    def load_block(self, v: Sequence[float], o: int) -> None:
        self.g, self.total = v[o], v[o + 1]
        self.counts = list(v[o + 2 : o + self.block_width])

    @classmethod
    def from_state(cls, state: list) -> DecayedHistogram:
        lo, hi, bins, decay, g, total, counts = state
        h = cls(lo, hi, bins, 1.0)
        h.decay, h.g, h.total, h.counts = decay, g, total, [float(c) for c in counts]
        return h


class OnlineRidge:
    """Least squares of y on x with older rows fading and a ridge penalty, by its running sums:
    beta = (sum w x x' + penalty I)^-1 sum w x y, the same as the batch weighted ridge on every row
    seen so far. k is small (a few features): the solve is a k x k elimination, O(k^3) = O(1)."""

    __slots__ = ("decay", "k", "penalty", "xx", "xy")

    def __init__(self, k: int, halflife: float, penalty: float) -> None:
        self.k = k
        self.decay = 0.5 ** (1.0 / halflife)
        self.penalty = penalty
        self.xx = [[0.0] * k for _ in range(k)]
        self.xy = [0.0] * k

    def add(self, x: Sequence[float], y: float, w: float = 1.0) -> None:
        d = self.decay**w
        for i in range(self.k):
            row = self.xx[i]
            xi = w * x[i]
            for j in range(self.k):
                row[j] = row[j] * d + xi * x[j]
            self.xy[i] = self.xy[i] * d + xi * y

    def coefficients(self) -> list[float]:
        k = self.k
        a = [
            [self.xx[i][j] + (self.penalty if i == j else 0.0) for j in range(k)] + [self.xy[i]]
            for i in range(k)
        ]
        return _solve(a, k)

    def predict(self, x: Sequence[float]) -> float:
        return sum(b * xi for b, xi in zip(self.coefficients(), x, strict=True))

    def to_state(self) -> list:
        return [self.k, self.decay, self.penalty, self.xx, self.xy]

    @property
    def block_width(self) -> int:
        return self.k * self.k + self.k  # xx row by row, xy

    def to_block(self, row: Row, o: int) -> None:
        k = self.k
        row[o : o + k * k] = [v for r in self.xx for v in r]
        row[o + k * k : o + k * k + k] = self.xy

    def load_block(self, v: Sequence[float], o: int) -> None:
        k = self.k
        self.xx = [list(v[o + r * k : o + (r + 1) * k]) for r in range(k)]
        self.xy = list(v[o + k * k : o + k * k + k])

    @classmethod
    def from_state(cls, state: list) -> OnlineRidge:
        k, decay, penalty, xx, xy = state
        r = cls(k, 1.0, penalty)
        r.decay, r.xx, r.xy = decay, [list(map(float, row)) for row in xx], [float(v) for v in xy]
        return r


def _solve(a: list[list[float]], k: int) -> list[float]:
    """Gaussian elimination with partial pivoting on the augmented k x (k+1) matrix."""
    for col in range(k):
        pivot = max(range(col, k), key=lambda r: abs(a[r][col]))
        a[col], a[pivot] = a[pivot], a[col]
        p = a[col][col]
        if abs(p) < 1e-300:
            return [0.0] * k
        for r in range(col + 1, k):
            f = a[r][col] / p
            if f:
                for c in range(col, k + 1):
                    a[r][c] -= f * a[col][c]
    out = [0.0] * k
    for r in range(k - 1, -1, -1):
        out[r] = (a[r][k] - sum(a[r][c] * out[c] for c in range(r + 1, k))) / a[r][r]
    return out


class BinnedRate:
    """P(event | score): the faded frequency of the event among past observations whose score fell
    in the same bin (fixed edges), shrunk towards the overall rate (all observations, not faded:
    the steadiest estimate there is) with `prior` hours' worth of pseudo-observations.
    A histogram-binning calibration map: what it says in a bin is what happened there before."""

    __slots__ = ("decay", "edges", "g", "hits", "n", "prior", "total_hits", "total_n")

    def __init__(self, edges: Sequence[float], halflife: float, prior: float) -> None:
        self.edges = list(edges)
        self.decay = 0.5 ** (1.0 / halflife)
        self.prior = prior
        self.g = 1.0
        self.n = [0.0] * (len(edges) + 1)
        self.hits = [0.0] * (len(edges) + 1)
        self.total_n = 0.0
        self.total_hits = 0.0

    def bin(self, score: float) -> int:
        return bisect_right(self.edges, score)

    def add(self, score: float, event: bool, w: float = 1.0) -> None:
        self.g /= self.decay**w
        if self.g > RESCALE_AT:
            s = 1.0 / self.g
            self.n = [v * s for v in self.n]
            self.hits = [v * s for v in self.hits]
            self.g = 1.0
        i = self.bin(score)
        self.n[i] += w * self.g
        self.total_n += w
        if event:
            self.hits[i] += w * self.g
            self.total_hits += w

    def base_rate(self) -> float:
        return self.total_hits / self.total_n if self.total_n > 0 else 0.5

    def rate(self, score: float) -> float:
        i = self.bin(score)
        prior_w = self.prior * self.g  # `prior` hours' worth of observations, at today's weight
        return (self.hits[i] + prior_w * self.base_rate()) / (self.n[i] + prior_w)

    def to_state(self) -> list:
        return [self.edges, self.decay, self.prior, self.g, self.n, self.hits, self.total_n, self.total_hits]

    @property
    def block_width(self) -> int:
        return 1 + 2 * len(self.n) + 2  # g, n per bin, hits per bin, total_n, total_hits

    def to_block(self, row: Row, o: int) -> None:
        b = len(self.n)
        row[o] = self.g
        row[o + 1 : o + 1 + b] = self.n
        row[o + 1 + b : o + 1 + 2 * b] = self.hits
        row[o + 1 + 2 * b], row[o + 2 + 2 * b] = self.total_n, self.total_hits

    def load_block(self, v: Sequence[float], o: int) -> None:
        b = len(self.n)
        self.g = v[o]
        self.n = list(v[o + 1 : o + 1 + b])
        self.hits = list(v[o + 1 + b : o + 1 + 2 * b])
        self.total_n, self.total_hits = v[o + 1 + 2 * b], v[o + 2 + 2 * b]

    @classmethod
    def from_state(cls, state: list) -> BinnedRate:
        edges, decay, prior, g, n, hits, total_n, total_hits = state
        b = cls(edges, 1.0, prior)
        b.decay, b.g, b.n, b.hits = decay, g, [float(v) for v in n], [float(v) for v in hits]
        b.total_n, b.total_hits = total_n, total_hits
        return b


class AdaptiveLevel:
    """Adaptive conformal correction (Gibbs and Candes 2021): the miscoverage level actually used,
    moved after each outcome by gamma w (target - missed), w the outcome's weight in hours, so the
    long-run share of misses tends to the target whatever the residuals' distribution does, and
    sixty minute outcomes move it as far as one hourly outcome. Kept within [floor, 0.5]."""

    __slots__ = ("alpha", "floor", "gamma", "target")

    def __init__(self, target: float, gamma: float = 0.005, floor: float = 0.002) -> None:
        self.target = target
        self.alpha = target
        self.gamma = gamma
        self.floor = floor

    def update(self, missed: bool, w: float = 1.0) -> None:
        self.alpha = min(0.5, max(self.floor, self.alpha + self.gamma * w * (self.target - float(missed))))

    def to_state(self) -> list:
        return [self.target, self.alpha, self.gamma, self.floor]

    @classmethod
    def from_state(cls, state: list) -> AdaptiveLevel:
        target, alpha, gamma, floor = state
        a = cls(target, gamma, floor)
        a.alpha = alpha
        return a
