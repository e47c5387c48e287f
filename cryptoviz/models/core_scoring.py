"""The compiled core's scoreboard: a settled prediction scored (`scoring.board.HorizonScore.score`)
and the signals as positions (`HorizonScore.trade`). Inlined into `core.run`."""

from __future__ import annotations

from cryptoviz.models.core_estimators import hac_add
from cryptoviz.models.core_jit import helper
from cryptoviz.models.layout import (
    ALWAYS_UP,
    C_LEVEL,
    E_BASE,
    E_BASE_RATE,
    E_DUE,
    E_FC,
    E_HAS_FC,
    E_PRED,
    F_BOUNDS,
    F_PUP,
    F_REGIME,
    FIRED,
    HAC,
    INTERVALS,
    LAGS,
    NL,
    NS,
    OUTCOMES,
    P_PERSISTENCE,
    POSITION,
    PROB,
    RELIABILITY_BINS,
    SKILL,
    SUMS,
    TALLY,
)


@helper
def score_entry(fixed, i, h, ring, s, price, cfg):
    """HorizonScore.score of one pending prediction (ring slot s); returns whether it held a forecast."""
    base = ring[i, s, E_BASE]
    move = price - base
    ape_persistence = abs(ring[i, s, E_PRED + P_PERSISTENCE] - price) / price * 100
    lags = LAGS[h]
    j = 0
    for m in range(NS):
        pred = ring[i, s, E_PRED + m]
        o = SUMS + (h * NS + m) * 5
        err = abs(pred - price)
        fixed[i, o] += 1
        fixed[i, o + 1] += err
        fixed[i, o + 2] += err / price
        predicted_move = pred - base
        if predicted_move != 0 and move != 0:
            fixed[i, o + 3] += 1
            fixed[i, o + 4] += 1.0 if (predicted_move > 0) == (move > 0) else 0.0
        if m != P_PERSISTENCE:
            hac_add(
                fixed, i, SKILL + (h * (NS - 1) + j) * HAC, lags, ape_persistence - err / price * 100,
                ring[i, s, E_DUE],
            )  # fmt: skip
            j += 1
    if move != 0:
        o = ALWAYS_UP + h * 3
        fixed[i, o] += 1
        fixed[i, o + 1] += 1.0 if move > 0 else 0.0
        fixed[i, o + 2] += 0.0
    has_fc = ring[i, s, E_HAS_FC] > 0
    if has_fc:
        fc = E_FC
        regime = int(ring[i, s, fc + F_REGIME])
        for lv in range(NL):
            low, high = ring[i, s, fc + F_BOUNDS + 2 * lv], ring[i, s, fc + F_BOUNDS + 2 * lv + 1]
            alpha = cfg[C_LEVEL + lv]
            o = INTERVALS + (h * NL + lv) * TALLY
            inside = low <= price <= high
            penalty = (2 / alpha) * (max(0.0, low - price) + max(0.0, price - high))
            fixed[i, o] += 1
            fixed[i, o + 1] += 1.0 if inside else 0.0
            fixed[i, o + 2] += (high - low) / base * 100
            fixed[i, o + 3] += (high - low + penalty) / base * 100
            fixed[i, o + 4 + 2 * regime] += 1
            fixed[i, o + 5 + 2 * regime] += 1.0 if inside else 0.0
        p = ring[i, s, fc + F_PUP]
        up = 1.0 if move > 0 else 0.0
        o = PROB + h * (3 + 3 * RELIABILITY_BINS)
        fixed[i, o] += 1
        fixed[i, o + 1] += (p - up) ** 2
        fixed[i, o + 2] += (ring[i, s, E_BASE_RATE] - up) ** 2
        b = o + 3 + 3 * min(RELIABILITY_BINS - 1, int(p * RELIABILITY_BINS))
        fixed[i, b] += 1
        fixed[i, b + 1] += p
        fixed[i, b + 2] += up
    o = OUTCOMES + h * 3
    fixed[i, o] += 1.0 if move > 0 else 0.0
    fixed[i, o + 1] += 1
    return has_fc


@helper
def close_position(fixed, i, h, price, fee_pct):
    """HorizonScore._close"""
    p = POSITION + h * 3
    net = fixed[i, p] * (price - fixed[i, p + 1]) / fixed[i, p + 1] * 100 - fee_pct
    o = FIRED + h * 3
    fixed[i, o] += 1
    fixed[i, o + 1] += 1.0 if net > 0 else 0.0
    fixed[i, o + 2] += net
    fixed[i, p] = fixed[i, p + 1] = fixed[i, p + 2] = 0.0


@helper
def trade(fixed, i, h, t, price, direction, horizon_s, late_limit, fee_pct):
    """HorizonScore.trade"""
    p = POSITION + h * 3
    held = fixed[i, p]
    if held != 0 and t >= fixed[i, p + 2]:
        if t - fixed[i, p + 2] > late_limit:
            fixed[i, p] = fixed[i, p + 1] = fixed[i, p + 2] = 0.0
            held = 0.0
        elif direction != held:
            close_position(fixed, i, h, price, fee_pct)
            held = 0.0
    if direction == 0:
        return
    if held == direction:
        fixed[i, p + 2] = t + horizon_s
        return
    if held != 0:
        close_position(fixed, i, h, price, fee_pct)
    fixed[i, p], fixed[i, p + 1], fixed[i, p + 2] = direction, price, t + horizon_s
