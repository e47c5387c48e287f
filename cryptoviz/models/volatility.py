"""Recent volatility: RMS of log returns scaled to one hour, over a time window (O(1) per update)."""

from __future__ import annotations

import math
from collections import deque


class Volatility:
    __slots__ = ("last", "points", "span_s", "sum_sq")

    def __init__(self, span_s: float) -> None:
        self.span_s = span_s
        self.points: deque[tuple[float, float]] = deque()  # (t, squared hourly-scaled log return)
        self.sum_sq = 0.0
        self.last: tuple[float, float] | None = None

    def update(self, t: float, price: float) -> None:
        if self.last is not None and t > self.last[0]:
            dt_h = (t - self.last[0]) / 3600.0
            r = math.log(price / self.last[1])
            sq = r * r / dt_h
            self.points.append((t, sq))
            self.sum_sq += sq
            cutoff = t - self.span_s
            while self.points[0][0] < cutoff:
                self.sum_sq -= self.points.popleft()[1]
        self.last = (t, price)

    def hourly(self) -> float | None:
        """Hourly volatility as a fraction of price, or None with fewer than 3 returns."""
        n = len(self.points)
        if n < 3:
            return None
        return math.sqrt(max(self.sum_sq, 0.0) / n)

    def to_state(self) -> list:
        return [self.span_s, [list(p) for p in self.points], list(self.last) if self.last else None]

    @classmethod
    def from_state(cls, state: list) -> Volatility:
        vol = cls(state[0])
        for t, sq in state[1]:
            vol.points.append((t, sq))
            vol.sum_sq += sq
        vol.last = (float(state[2][0]), float(state[2][1])) if state[2] else None
        return vol
