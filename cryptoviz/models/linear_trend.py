"""Linear trend: least squares over a time window, extrapolated `horizon` ahead in event time."""

from __future__ import annotations

from cryptoviz.models.window import TimeWindow


class LinearTrend:
    __slots__ = ("last", "window")

    def __init__(self, span_s: float) -> None:
        self.window = TimeWindow(span_s)
        self.last = 0.0

    def update(self, t: float, price: float) -> None:
        self.window.add(t, price)
        self.last = price

    def slope_per_hour(self) -> float:
        fit = self.window.fit()
        return fit[1] if fit else 0.0

    def predict(self, t: float, horizon_s: float) -> float:
        fit = self.window.fit()
        if fit is None:
            return self.last
        a, b = fit
        return a + b * self.window.hours(t + horizon_s)
