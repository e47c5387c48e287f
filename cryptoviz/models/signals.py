"""BUY / SELL / HOLD from the calibrated P(up) and the headline forecast's expected move.

BUY when P(up) >= threshold and the forecast's move exceeds the round-trip fee; SELL when
1 - P(up) >= threshold and the move is below minus the fee; otherwise HOLD. `confidence` is the
probability of the side the signal takes (P(up) for BUY, 1 - P(up) for SELL, the larger of the two
for HOLD): a probability whose calibration the scoreboard measures (reliability table, Brier
score). `agreement` is kept for reading: the weighted share of the seed's three models that
predict the forecast's direction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Signal:
    action: str  # BUY, SELL or HOLD
    p_up: float
    confidence: float
    move_pct: float  # the headline forecast's move, % of price
    agreement: float
    horizon: str

    @property
    def direction(self) -> int:
        return {"BUY": 1, "SELL": -1}.get(self.action, 0)

    def to_dict(self) -> dict:
        # by hand: dataclasses.asdict deep-copies every field (7.7 us a call against 0.3, for every view)
        return {
            "action": self.action,
            "p_up": self.p_up,
            "confidence": self.confidence,
            "move_pct": self.move_pct,
            "agreement": self.agreement,
            "horizon": self.horizon,
        }


def decide(
    price: float,
    forecast: float,
    p_up: float,
    threshold: float,
    fee_bps: float,
    horizon: str,
    model_predictions: Sequence[float] = (),
    weights: Sequence[float] = (),
) -> Signal:
    move_pct = (forecast - price) / price * 100
    move_bps = move_pct * 100
    direction = (move_pct > 0) - (move_pct < 0)
    total = sum(weights)
    agreeing = sum(
        w
        for p, w in zip(model_predictions, weights, strict=True)
        if direction and (p - price) * direction > 0
    )
    action = "HOLD"
    if p_up >= threshold and move_bps > fee_bps:
        action = "BUY"
    elif 1 - p_up >= threshold and -move_bps > fee_bps:
        action = "SELL"
    confidence = {"BUY": p_up, "SELL": 1 - p_up}.get(action, max(p_up, 1 - p_up))
    return Signal(
        action,
        round(p_up, 4),
        round(confidence, 4),
        round(move_pct, 4),
        round(agreeing / total if total else 0.0, 4),
        horizon,
    )
