"""The volatility forecast: the expected absolute move over 1 h, 6 h and 24 h, learnt walk-forward.

E|log move over h| = c x sigma_w sqrt(h), with sigma_w^2 a blend of the quick (4 h), fast (24 h)
and slow (30-day) EWMA variances: per horizon the blend whose fading squared error has been least
(the longer horizons lean on the slower one: volatility reverts to its mean; at a quote a minute
the quick one sees a calm or busy hour coming on), c a fading mean of the realised
|move| / sigma_w sqrt(h). Each expected move waits in a queue until
its horizon passes; only then is it learnt from (and handed back to be scored), weighing the hours
it stands for (`observation_weight` of the time since the previous one's due time).
"""

from __future__ import annotations

import math
from collections import deque

from cryptoviz.models import HOUR
from cryptoviz.models.estimators import observation_weight
from cryptoviz.models.fading import EwmaVariance, FadingMean

VOL_HORIZONS: dict[str, float] = {"1h": HOUR, "6h": 6 * HOUR, "24h": 24 * HOUR}
# the weights of the quick, fast and slow variances in each blend
VOL_BLENDS = (
    (0.0, 1.0, 0.0),
    (0.0, 0.75, 0.25),
    (0.0, 0.5, 0.5),
    (0.0, 0.25, 0.75),
    (0.0, 0.0, 1.0),
    (1.0, 0.0, 0.0),
)
MAX_RATIO = 8.0  # a realised move of more than 8 sigmas teaches as much as 8


def _blend(quick: float, short: float, long: float, w: tuple[float, float, float]) -> float:
    return math.sqrt(w[0] * quick * quick + w[1] * short * short + w[2] * long * long)


class MoveForecaster:
    def __init__(self, long_halflife_h: float, halflife: float, quick_halflife_h: float) -> None:
        self.vol_long = EwmaVariance(long_halflife_h)
        self.vol_quick = EwmaVariance(quick_halflife_h)
        self.ratio = {h: [FadingMean(halflife) for _ in VOL_BLENDS] for h in VOL_HORIZONS}
        self.error = {h: [FadingMean(halflife) for _ in VOL_BLENDS] for h in VOL_HORIZONS}
        # per horizon: (due time, base price, sigma sqrt(h), sigma_long sqrt(h), expected move %,
        # sigma_quick sqrt(h))
        self.pending: dict[str, deque[tuple[float, float, float, float, float, float]]] = {
            h: deque() for h in VOL_HORIZONS
        }
        self.last_due = dict.fromkeys(VOL_HORIZONS, -math.inf)  # of the last move learnt from

    def tick(self, t: float, price: float) -> None:
        self.vol_long.update(t, price)
        self.vol_quick.update(t, price)

    def expected(self, t: float, price: float, sigma: float) -> dict[str, float]:
        """Horizon -> the expected absolute move in % of price; queued to be learnt from and scored."""
        long = self.vol_long.hourly() or sigma
        quick = self.vol_quick.hourly() or sigma
        out: dict[str, float] = {}
        for h, s in VOL_HORIZONS.items():
            root_h = math.sqrt(s / HOUR)
            errors = [m.value() for m in self.error[h]]
            i = 0 if None in errors else min(range(len(VOL_BLENDS)), key=lambda k: errors[k] or 0.0)
            ratio = self.ratio[h][i].value()
            c = ratio if ratio is not None else math.sqrt(2 / math.pi)
            out[h] = c * _blend(quick, sigma, long, VOL_BLENDS[i]) * root_h * 100
            self.pending[h].append((t + s, price, sigma * root_h, long * root_h, out[h], quick * root_h))
        return out

    def settle(self, t: float, price: float, tolerance: float) -> list[tuple[str, float, float]]:
        """Learn from the expected moves whose horizon has passed: (horizon, expected %, realised %)
        of each settled within `tolerance` x horizon (later ones expire, as predictions do)."""
        settled: list[tuple[str, float, float]] = []
        for h, queue in self.pending.items():
            late = VOL_HORIZONS[h] * tolerance
            while queue and queue[0][0] <= t:
                due, base, short, long, expected, quick = queue.popleft()
                if t - due > late:
                    continue
                realised = abs(math.log(price / base))
                w = observation_weight(due - self.last_due[h])
                self.last_due[h] = due
                span_h = VOL_HORIZONS[h] / HOUR
                for blend, ratio, error in zip(VOL_BLENDS, self.ratio[h], self.error[h], strict=True):
                    scale = _blend(quick, short, long, blend)
                    c = ratio.value()
                    if c is not None:
                        error.add((realised - c * scale) ** 2 / (short * short), w, span_h)
                    ratio.add(min(realised / scale, MAX_RATIO), w, span_h)
                settled.append((h, expected, realised * 100))
        return settled

    def to_state(self) -> dict:
        return {
            "vol_long": self.vol_long.to_state(),
            "vol_quick": self.vol_quick.to_state(),
            "ratio": {h: [m.to_state() for m in ms] for h, ms in self.ratio.items()},
            "error": {h: [m.to_state() for m in ms] for h, ms in self.error.items()},
            "pending": {h: [list(e) for e in q] for h, q in self.pending.items()},
            "last_due": {h: t if math.isfinite(t) else None for h, t in self.last_due.items()},
        }

    def load(self, state: dict) -> None:
        self.vol_long = EwmaVariance.from_state(state["vol_long"])
        self.vol_quick = EwmaVariance.from_state(state["vol_quick"])
        for h, ms in state["ratio"].items():
            self.ratio[h] = [FadingMean.from_state(m) for m in ms]
        for h, ms in state["error"].items():
            self.error[h] = [FadingMean.from_state(m) for m in ms]
        for h, t in state["last_due"].items():
            self.last_due[h] = t if t is not None else -math.inf
        for h, q in state["pending"].items():
            self.pending[h].extend(
                (float(a), float(b), float(c), float(d), float(e), float(f)) for a, b, c, d, e, f in q
            )
