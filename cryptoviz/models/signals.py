"""BUY / SELL / HOLD with a confidence computed from the models' agreement and the move's size.

confidence = agreement x strength, where
- agreement: the weighted share of the three models that predict the consensus's direction;
- strength: 1 - exp(-z), z being the consensus move over the horizon in units of recent volatility
  (hourly volatility x sqrt(horizon in hours)). A one-sigma move gives 0.63, two sigmas 0.86.
Below the threshold the action is HOLD. Without a volatility estimate the confidence is 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass


@dataclass(frozen=True, slots=True)
class Signal:
    action: str  # BUY, SELL or HOLD
    confidence: float
    agreement: float
    strength: float
    move_pct: float
    horizon: str

    def to_dict(self) -> dict:
        return asdict(self)


def decide(
    price: float,
    model_predictions: Sequence[float],
    weights: Sequence[float],
    consensus_prediction: float,
    hourly_volatility: float | None,
    horizon_s: float,
    threshold: float,
    horizon: str = "1h",
) -> Signal:
    move = consensus_prediction - price
    move_pct = move / price * 100
    direction = (move > 0) - (move < 0)
    total = sum(weights)
    agreeing = sum(
        w
        for p, w in zip(model_predictions, weights, strict=True)
        if direction and (p - price) * direction > 0
    )
    agreement = agreeing / total if total else 0.0
    if not hourly_volatility or hourly_volatility <= 0 or direction == 0:
        strength = 0.0
    else:
        z = abs(move) / (price * hourly_volatility * math.sqrt(horizon_s / 3600.0))
        strength = 1.0 - math.exp(-z)
    confidence = agreement * strength
    action = "HOLD"
    if confidence >= threshold:
        action = "BUY" if direction > 0 else "SELL"
    return Signal(
        action, round(confidence, 4), round(agreement, 4), round(strength, 4), round(move_pct, 4), horizon
    )
