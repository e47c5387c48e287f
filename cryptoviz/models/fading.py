"""Fading averages: a mean of a stream whose older values weigh less (each value weighs the hours
it stands for, see `estimators.observation_weight`), with its t statistic, and the hourly variance
of log returns weighted in time. O(1) per update, each with a
snapshot. (The other online estimators are in `estimators`.)"""

from __future__ import annotations

import math
from collections.abc import Sequence

from cryptoviz.models.estimators import Row


class FadingMean:
    """A mean whose older values fade (exponentially weighted, half-life in hours of values), with
    the t statistic of that mean; None before any value."""

    __slots__ = ("decay", "sum_w", "sum_w2", "sum_x", "sum_xx")
    WIDTH = 4  # its block in the compiled core's row: sum_w, sum_w2, sum_x, sum_xx

    def __init__(self, halflife: float) -> None:
        self.decay = 0.5 ** (1.0 / halflife)
        self.sum_w = 0.0
        self.sum_w2 = 0.0
        self.sum_x = 0.0
        self.sum_xx = 0.0

    def add(self, x: float, w: float = 1.0, span_h: float = 1.0) -> None:
        """A value of weight w (hours) about an outcome spanning `span_h` hours: values less than
        `span_h` apart share their outcome, so each counts as w / span_h of an independent one in
        the effective count (sum_w2 gathers w max(w, span_h) where independent values give w^2)."""
        d = self.decay**w
        self.sum_w = self.sum_w * d + w
        self.sum_w2 = self.sum_w2 * d * d + w * max(w, span_h)
        self.sum_x = self.sum_x * d + w * x
        self.sum_xx = self.sum_xx * d + w * x * x

    def value(self) -> float | None:
        return self.sum_x / self.sum_w if self.sum_w > 0 else None

    def t_stat(self) -> float:
        """mean / its standard error, from the effective count of independent values ((sum w)^2 /
        sum_w2: Kish's, with overlapping outcomes counted once per span); 0 with fewer than 2."""
        n_eff = self.sum_w * self.sum_w / self.sum_w2 if self.sum_w2 > 0 else 0.0
        if n_eff < 2:
            return 0.0
        mean = self.sum_x / self.sum_w
        var = max(self.sum_xx / self.sum_w - mean * mean, 0.0)
        return mean / math.sqrt(var / n_eff) if var > 0 else 0.0

    def to_state(self) -> list:
        return [self.decay, self.sum_w, self.sum_w2, self.sum_x, self.sum_xx]

    def to_block(self, row: Row, o: int) -> None:
        row[o : o + 4] = [self.sum_w, self.sum_w2, self.sum_x, self.sum_xx]

    def load_block(self, v: Sequence[float], o: int) -> None:
        self.sum_w, self.sum_w2, self.sum_x, self.sum_xx = v[o : o + 4]

    @classmethod
    def from_state(cls, state: list) -> FadingMean:
        m = cls(1.0)
        m.decay, m.sum_w, m.sum_w2, m.sum_x, m.sum_xx = state
        return m


class EwmaVariance:
    """Hourly variance of log returns, exponentially weighted in time (half-life in hours): each
    return is scaled to one hour (r^2 / dt_h) and weighs as much as the time it spans."""

    __slots__ = ("halflife_h", "last", "var", "weight")
    WIDTH = 5  # its block in the compiled core's row: var, weight, has last, last t, last price

    def __init__(self, halflife_h: float) -> None:
        self.halflife_h = halflife_h
        self.var = 0.0
        self.weight = 0.0  # the weight behind `var` (1 would be an infinite history)
        self.last: tuple[float, float] | None = None

    def update(self, t: float, price: float) -> float | None:
        """Take the tick; returns the log return since the previous one (None for the first)."""
        r = None
        if self.last is not None and t > self.last[0] and price > 0:
            dt_h = (t - self.last[0]) / 3600.0
            r = math.log(price / self.last[1])
            keep = 0.5 ** (dt_h / self.halflife_h)
            self.var = keep * self.var + (1 - keep) * (r * r / dt_h)
            self.weight = keep * self.weight + (1 - keep)
        if price > 0:
            self.last = (t, price)
        return r

    def hourly(self) -> float | None:
        """Hourly volatility (a fraction of price), bias-corrected for a short history; None until
        the history spans a tenth of the half-life."""
        if self.weight < 1 - 0.5**0.1:
            return None
        return math.sqrt(self.var / self.weight)

    def to_state(self) -> list:
        return [self.halflife_h, self.var, self.weight, list(self.last) if self.last else None]

    def to_block(self, row: Row, o: int) -> None:
        row[o], row[o + 1] = self.var, self.weight
        if self.last is not None:
            row[o + 2 : o + 5] = [1.0, *self.last]

    def load_block(self, v: Sequence[float], o: int) -> None:
        self.var, self.weight = v[o], v[o + 1]
        self.last = (v[o + 3], v[o + 4]) if v[o + 2] else None

    @classmethod
    def from_state(cls, state: list) -> EwmaVariance:
        halflife_h, var, weight, last = state
        e = cls(halflife_h)
        e.var, e.weight = var, weight
        e.last = (float(last[0]), float(last[1])) if last else None
        return e
