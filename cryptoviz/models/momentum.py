"""Momentum: the rate of change over a time window, carried `horizon` ahead."""

from __future__ import annotations

from collections import deque


class Momentum:
    __slots__ = ("points", "span_s")

    def __init__(self, span_s: float) -> None:
        self.span_s = span_s
        self.points: deque[tuple[float, float]] = deque()

    def update(self, t: float, price: float) -> None:
        self.points.append((t, price))
        cutoff = t - self.span_s
        while self.points[0][0] < cutoff:
            self.points.popleft()

    def rate_per_second(self) -> float:
        (t0, p0), (t1, p1) = self.points[0], self.points[-1]
        return (p1 - p0) / (t1 - t0) if t1 > t0 else 0.0

    def predict(self, t: float, horizon_s: float) -> float:
        return self.points[-1][1] + self.rate_per_second() * horizon_s
