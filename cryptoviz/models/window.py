"""A time-bounded window of (time, price) points with running sums: O(1) amortised per update."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from cryptoviz.models.estimators import Row


class TimeWindow:
    """Keeps the points of the last `span_s` seconds and the sums a least-squares fit needs.

    Times are stored relative to an anchor so the sums stay well conditioned; the sums are rebuilt
    from the points every `REBUILD` evictions, which bounds floating-point drift (amortised O(1)).
    """

    REBUILD = 4096
    WIDTH = 8  # its block in the compiled core's row: anchor, has anchor, n, st, sp, stt, stp, evictions
    __slots__ = ("_evictions", "anchor", "n", "points", "sp", "span_s", "st", "stp", "stt")

    def __init__(self, span_s: float) -> None:
        self.span_s = span_s
        self.points: deque[tuple[float, float]] = deque()
        self.anchor: float | None = None
        self.n = 0
        self.st = self.sp = self.stt = self.stp = 0.0
        self._evictions = 0

    def add(self, t: float, p: float) -> None:
        if self.anchor is None:
            self.anchor = t
        x = (t - self.anchor) / 3600.0
        self.points.append((t, p))
        self.n += 1
        self.st += x
        self.sp += p
        self.stt += x * x
        self.stp += x * p
        cutoff = t - self.span_s
        points = self.points
        while points[0][0] < cutoff:
            t0, p0 = points.popleft()
            x0 = (t0 - self.anchor) / 3600.0
            self.n -= 1
            self.st -= x0
            self.sp -= p0
            self.stt -= x0 * x0
            self.stp -= x0 * p0
            self._evictions += 1
        if self._evictions >= self.REBUILD:
            self._rebuild()

    def _rebuild(self) -> None:
        self._evictions = 0
        self.anchor = self.points[0][0]
        self.n = len(self.points)
        self.st = self.sp = self.stt = self.stp = 0.0
        for t, p in self.points:
            x = (t - self.anchor) / 3600.0
            self.st += x
            self.sp += p
            self.stt += x * x
            self.stp += x * p

    @property
    def mean(self) -> float:
        return self.sp / self.n

    def fit(self) -> tuple[float, float] | None:
        """Least squares price = a + b * hours_since_anchor, or None when it is undetermined."""
        n = self.n
        if n < 2:
            return None
        denom = n * self.stt - self.st * self.st
        if denom <= 1e-12 * max(1.0, self.stt * n):
            return None
        b = (n * self.stp - self.st * self.sp) / denom
        a = (self.sp - b * self.st) / n
        return a, b

    def hours(self, t: float) -> float:
        return (t - (self.anchor if self.anchor is not None else t)) / 3600.0

    def to_state(self) -> list:
        return [self.span_s, [list(p) for p in self.points]]

    def to_block(self, row: Row, o: int) -> None:
        """The sums (the points are a queue of the core's, `layout.Q_MA` / `Q_TREND`)."""
        if self.anchor is not None:
            row[o], row[o + 1] = self.anchor, 1.0
        row[o + 2 : o + 8] = [self.n, self.st, self.sp, self.stt, self.stp, self._evictions]

    def load_block(self, v: Sequence[float], o: int, points: list[list[float]]) -> None:
        self.anchor = v[o] if v[o + 1] else None
        self.n = int(v[o + 2])
        self.st, self.sp, self.stt, self.stp = v[o + 3 : o + 7]
        self._evictions = int(v[o + 7])
        self.points = deque((t, p) for t, p in points)

    @classmethod
    def from_state(cls, state: list) -> TimeWindow:
        win = cls(state[0])
        for t, p in state[1]:
            win.points.append((t, p))
        if win.points:
            win._rebuild()
        return win
