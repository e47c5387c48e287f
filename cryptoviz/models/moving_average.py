"""Moving average over a time window: predicts the price reverts to the window's mean."""

from __future__ import annotations

from cryptoviz.models.window import TimeWindow


class MovingAverage:
    __slots__ = ("window",)

    def __init__(self, span_s: float) -> None:
        self.window = TimeWindow(span_s)

    def update(self, t: float, price: float) -> None:
        self.window.add(t, price)

    def predict(self, t: float, horizon_s: float) -> float:
        return self.window.mean
