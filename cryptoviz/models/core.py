"""The compiled model core: `SymbolModel.update`'s arithmetic over many ticks of many symbols in one
call, compiled by numba, on the struct-of-arrays state that `cryptoviz.models.layout` lays out.

`run` is a short sequence of steps, each the reference engine's (`engine`, `forecaster`, `moves`,
`scoring`) in the same order with the same operations, so the outputs agree with it to rounding
(tests/unit/models/test_book.py drives both over real history); the estimators they use are in
`core_estimators`, the queues in `core_rings`, the scoreboard in `core_scoring`, the headline
forecast's learning in `core_forecast`; `core_prefetch` asks for the state of the ticks ahead. The
reference classes' docstrings say what each step means; here they are only named.

`run` returns the number of ticks it applied: fewer than given when a queue needs a larger ring
(the book grows it and calls again from there), so a tick is never half applied.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from cryptoviz.models.core_estimators import (
    blend,
    blocked_cdf,
    clip,
    ewma_hourly,
    ewma_update,
    faded,
    hist_add,
    hist_weight,
    least_mean,
    observation_weight,
    window_add,
    window_fit,
)
from cryptoviz.models.core_forecast import forecast_into, learn_outcome, settle_moves
from cryptoviz.models.core_jit import HOUR, helper, njit
from cryptoviz.models.core_prefetch import AHEAD, prefetch_meta, prefetch_symbol
from cryptoviz.models.core_rings import (
    ring_first,
    ring_full,
    ring_last,
    ring_pop,
    ring_push,
    ring_second,
)
from cryptoviz.models.core_scoring import score_entry, trade
from cryptoviz.models.layout import (
    C_FEE_BPS,
    C_HORIZON,
    C_MA_SPAN,
    C_MOM_SPAN,
    C_REGIME_DECAY,
    C_THRESHOLD,
    C_TOLERANCE,
    C_TREND_SPAN,
    C_VOL_HALFLIFE,
    C_VOL_HORIZON,
    C_VOL_LONG_HALFLIFE,
    C_VOL_QUICK_HALFLIFE,
    C_VOL_SPAN,
    C_W0,
    C_W1,
    C_W2,
    CLIP,
    E_BASE,
    E_BASE_RATE,
    E_DUE,
    E_FC,
    E_HAS_FC,
    E_PRED,
    EWMA,
    F_POINT,
    F_PUP,
    FC,
    FIRST_P,
    FIRST_T,
    FM,
    HAS_FIRST,
    LAST_T,
    MIN_RESIDUALS,
    MOVE_ERROR,
    MOVE_RATIO,
    NK,
    NS,
    NVB,
    OUT_FC,
    OUT_HAS_FC,
    OUT_HAS_MOVES,
    OUT_MOVES,
    OUT_OK,
    OUT_PRED,
    OUT_SCORED,
    OUT_SIGNAL,
    OUT_STATS,
    OUTCOMES,
    P_DRIFT,
    P_FORECAST,
    P_PERSISTENCE,
    P_REVERSAL,
    Q_BOARD,
    Q_MA,
    Q_MOMENTUM,
    Q_MOVES,
    Q_RECENT,
    Q_TREND,
    Q_VOL,
    SCORED_TOTAL,
    SIGMA_BINS,
    SIGMA_BLOCK,
    SIGMA_LO,
    SIGMA_SUMS,
    SIGMA_WIDTH,
    SIGMAS,
    TICKS,
    TREND_LAST,
    TREND_WIN,
    VH,
    VOL,
    WIN,
    H,
)


class Scratch(NamedTuple):
    a: np.ndarray  # the ridge's augmented matrix
    beta: np.ndarray  # its solution


@helper
def settle(fixed, rings, meta, i, cfg, t, price, x):
    """Scoreboard.on_tick: score what is due now, the forecaster learning from each outcome, then
    the expected moves that are due; returns how many predictions were scored."""
    scored = 0
    for h in range(H):
        q = Q_BOARD + h
        ring = rings[q]
        late_limit = cfg[C_HORIZON + h] * cfg[C_TOLERANCE]
        while meta[i, q, 1] and ring[i, ring_first(ring, meta, i, q), E_DUE] <= t:
            s = ring_pop(ring, meta, i, q)
            if t - ring[i, s, E_DUE] > late_limit:
                fixed[i, OUTCOMES + h * 3 + 2] += 1
                continue
            if score_entry(fixed, i, h, ring, s, price, cfg):
                learn_outcome(fixed, i, h, cfg, ring, s, price, x)
            scored += 1
    fixed[i, SCORED_TOTAL] += scored
    settle_moves(fixed, rings, meta, i, cfg, t, price)
    return scored


@helper
def seed_models(fixed, rings, meta, i, cfg, t, price):
    """The seed's models take the tick: the moving average's and the trend's windows, momentum's
    points, the stats' volatility window."""
    window_add(fixed, rings, meta, i, 0, Q_MA, cfg[C_MA_SPAN], t, price)
    window_add(fixed, rings, meta, i, 1, Q_TREND, cfg[C_TREND_SPAN], t, price)
    fixed[i, TREND_LAST] = price
    ring = rings[Q_MOMENTUM]
    s = ring_push(ring, meta, i, Q_MOMENTUM)
    ring[i, s, 0], ring[i, s, 1] = t, price
    while ring[i, ring_first(ring, meta, i, Q_MOMENTUM), 0] < t - cfg[C_MOM_SPAN]:
        ring_pop(ring, meta, i, Q_MOMENTUM)
    if fixed[i, VOL + 1] > 0 and t > fixed[i, VOL + 2]:
        dt_h = (t - fixed[i, VOL + 2]) / 3600.0
        r = math.log(price / fixed[i, VOL + 3])
        sq = r * r / dt_h
        ring = rings[Q_VOL]
        s = ring_push(ring, meta, i, Q_VOL)
        ring[i, s, 0], ring[i, s, 1] = t, sq
        fixed[i, VOL] += sq
        while ring[i, ring_first(ring, meta, i, Q_VOL), 0] < t - cfg[C_VOL_SPAN]:
            fixed[i, VOL] -= ring[i, ring_pop(ring, meta, i, Q_VOL), 1]
    fixed[i, VOL + 1], fixed[i, VOL + 2], fixed[i, VOL + 3] = 1.0, t, price


@helper
def forecaster_tick(fixed, rings, meta, i, cfg, t, price):
    """Forecaster.tick: the EWMA volatilities, the last hour's ticks and the sigma history the
    regimes are cut from; returns (sigma, -1 for none; the last hour's log return; its span)."""
    ewma_update(fixed, i, EWMA, cfg[C_VOL_HALFLIFE], t, price)
    ewma_update(fixed, i, EWMA + 5, cfg[C_VOL_LONG_HALFLIFE], t, price)
    ewma_update(fixed, i, EWMA + 10, cfg[C_VOL_QUICK_HALFLIFE], t, price)
    ring = rings[Q_RECENT]
    has_recent = meta[i, Q_RECENT, 1] > 0
    w_tick = observation_weight(t - ring[i, ring_last(ring, meta, i, Q_RECENT), 0]) if has_recent else 1.0
    s = ring_push(ring, meta, i, Q_RECENT)
    ring[i, s, 0], ring[i, s, 1] = t, price
    while meta[i, Q_RECENT, 1] > 2 and ring[i, ring_second(ring, meta, i, Q_RECENT), 0] <= t - HOUR:
        ring_pop(ring, meta, i, Q_RECENT)
    sigma = ewma_hourly(fixed, i, EWMA)
    if sigma > 0:
        hist_add(
            fixed, i, SIGMAS, SIGMA_BINS, SIGMA_LO, SIGMA_WIDTH, faded(cfg[C_REGIME_DECAY], w_tick),
            math.log(sigma), w_tick, SIGMA_SUMS, SIGMA_BLOCK,
        )  # fmt: skip
    if meta[i, Q_RECENT, 1] < 2:
        return sigma, 0.0, HOUR
    a, b = ring_first(ring, meta, i, Q_RECENT), ring_last(ring, meta, i, Q_RECENT)
    return sigma, math.log(ring[i, b, 1] / ring[i, a, 1]), ring[i, b, 0] - ring[i, a, 0]


@helper
def seed_predictions(fixed, rings, meta, i, cfg, t, price, last_r, row):
    """The seed's models' predictions and the baselines per horizon into the output row; returns
    (the trend fit's ok, its slope, momentum's rate) for the stats."""
    reversal = price * math.exp(-last_r) if fixed[i, TICKS] > 1 else price
    if fixed[i, HAS_FIRST] == 0:
        fixed[i, HAS_FIRST], fixed[i, FIRST_T], fixed[i, FIRST_P] = 1.0, t, price
    elapsed = t - fixed[i, FIRST_T]
    drift_rate = math.log(price / fixed[i, FIRST_P]) / elapsed if elapsed > 0 else 0.0
    ma = fixed[i, WIN + 4] / fixed[i, WIN + 2]
    ok, a_fit, b_fit = window_fit(fixed, i, TREND_WIN)
    ring = rings[Q_MOMENTUM]
    m0, m1 = ring_first(ring, meta, i, Q_MOMENTUM), ring_last(ring, meta, i, Q_MOMENTUM)
    t0, p0, t1, p1 = ring[i, m0, 0], ring[i, m0, 1], ring[i, m1, 0], ring[i, m1, 1]
    rate = (p1 - p0) / (t1 - t0) if t1 > t0 else 0.0
    w0, w1, w2 = cfg[C_W0], cfg[C_W1], cfg[C_W2]
    total_w = ((0.0 + w0) + w1) + w2
    for h in range(H):
        horizon_s = cfg[C_HORIZON + h]
        anchor = fixed[i, TREND_WIN]
        lt = a_fit + b_fit * ((t + horizon_s - anchor) / 3600.0) if ok else fixed[i, TREND_LAST]
        mo = p1 + rate * horizon_s
        po = OUT_PRED + h * NS
        row[po], row[po + 1], row[po + 2] = ma, lt, mo
        row[po + 3] = (((0.0 + ma * w0) + lt * w1) + mo * w2) / total_w
        row[po + P_PERSISTENCE] = price
        row[po + P_DRIFT] = price * math.exp(drift_rate * horizon_s)
        row[po + P_REVERSAL] = reversal
    return ok, b_fit, rate


@helper
def regime_of(fixed, i, sigma):
    """Forecaster.regime: the walk-forward tercile of sigma among the sigmas seen (mid until enough)."""
    if sigma <= 0 or hist_weight(fixed, i, SIGMAS) < MIN_RESIDUALS:
        return 1
    u = blocked_cdf(
        fixed, i, SIGMAS, SIGMA_SUMS, SIGMA_BINS, SIGMA_BLOCK, SIGMA_LO, SIGMA_WIDTH, math.log(sigma)
    )
    return 0 if u < 1 / 3 else (1 if u < 2 / 3 else 2)


@helper
def headline(fixed, i, cfg, price, sigma, last_r, last_span, row, x, scratch):
    """Per horizon the headline forecast (from the features, in sigmas) and its signal."""
    regime = regime_of(fixed, i, sigma)
    ma = row[OUT_PRED]
    for h in range(H):
        po = OUT_PRED + h * NS
        if sigma > 0:
            scale = sigma * math.sqrt(cfg[C_HORIZON + h] / HOUR)
            last = last_r / (sigma * math.sqrt(max(last_span, 1.0) / HOUR))
            dist = math.log(price / ma) / scale if ma else 0.0
            seed = math.log(row[po + 3] / price) / scale if row[po + 3] > 0 else -CLIP
            x[0], x[1], x[2] = clip(seed), clip(last), clip(dist)
            forecast_into(fixed, i, h, cfg, price, sigma, regime, x, row, OUT_FC + h * FC, scratch)
            row[OUT_HAS_FC + h] = 1.0
            forecast, p_up = row[OUT_FC + h * FC + F_POINT], row[OUT_FC + h * FC + F_PUP]
        else:
            row[OUT_HAS_FC + h] = 0.0
            forecast, p_up = price, 0.5
        row[po + P_FORECAST] = forecast
        signal(cfg, row, h, price, forecast, p_up)


@helper
def signal(cfg, row, h, price, forecast, p_up):
    """signals.decide into the row (its rounding is the book's, when a Signal is made)."""
    po = OUT_PRED + h * NS
    w0, w1, w2 = cfg[C_W0], cfg[C_W1], cfg[C_W2]
    total_w = ((0.0 + w0) + w1) + w2
    move_pct = (forecast - price) / price * 100
    move_bps = move_pct * 100
    direction = 1.0 if move_pct > 0 else (-1.0 if move_pct < 0 else 0.0)
    agreeing = 0.0
    if direction:
        if (row[po] - price) * direction > 0:
            agreeing += w0
        if (row[po + 1] - price) * direction > 0:
            agreeing += w1
        if (row[po + 2] - price) * direction > 0:
            agreeing += w2
    action = 0
    if p_up >= cfg[C_THRESHOLD] and move_bps > cfg[C_FEE_BPS]:
        action = 1
    elif 1 - p_up >= cfg[C_THRESHOLD] and -move_bps > cfg[C_FEE_BPS]:
        action = -1
    confidence = p_up if action == 1 else (1 - p_up if action == -1 else max(p_up, 1 - p_up))
    so = OUT_SIGNAL + h * 5
    row[so], row[so + 1], row[so + 2] = action, p_up, confidence
    row[so + 3], row[so + 4] = move_pct, agreeing / total_w if total_w else 0.0


@helper
def queue_moves(fixed, rings, meta, i, cfg, t, price, sigma, row):
    """MoveForecaster.expected: the expected absolute moves into the row, queued to be learnt from."""
    if sigma <= 0:
        row[OUT_HAS_MOVES] = 0.0
        return
    row[OUT_HAS_MOVES] = 1.0
    long = ewma_hourly(fixed, i, EWMA + 5)
    if long <= 0:
        long = sigma
    quick = ewma_hourly(fixed, i, EWMA + 10)
    if quick <= 0:
        quick = sigma
    for v in range(VH):
        s_v = cfg[C_VOL_HORIZON + v]
        root_h = math.sqrt(s_v / HOUR)
        b = least_mean(fixed, i, MOVE_ERROR + v * NVB * FM, NVB)
        ro = MOVE_RATIO + (v * NVB + b) * FM
        c = fixed[i, ro + 2] / fixed[i, ro] if fixed[i, ro] > 0 else math.sqrt(2 / math.pi)
        expected = c * blend(quick, sigma, long, b) * root_h * 100
        row[OUT_MOVES + v] = expected
        ring = rings[Q_MOVES + v]
        s = ring_push(ring, meta, i, Q_MOVES + v)
        ring[i, s, 0], ring[i, s, 1], ring[i, s, 2] = t + s_v, price, sigma * root_h
        ring[i, s, 3], ring[i, s, 4], ring[i, s, 5] = long * root_h, expected, quick * root_h


@helper
def record(fixed, rings, meta, i, cfg, t, price, row):
    """Scoreboard.record: this tick's predictions wait until due; its signals trade."""
    fee_pct = cfg[C_FEE_BPS] / 100
    for h in range(H):
        q = Q_BOARD + h
        ring = rings[q]
        s = ring_push(ring, meta, i, q)
        po = OUT_PRED + h * NS
        horizon_s = cfg[C_HORIZON + h]
        ring[i, s, E_DUE] = t + horizon_s
        ring[i, s, E_BASE] = price
        for m in range(NS):
            ring[i, s, E_PRED + m] = row[po + m]
        ups, outcomes = fixed[i, OUTCOMES + h * 3], fixed[i, OUTCOMES + h * 3 + 1]
        ring[i, s, E_BASE_RATE] = ups / outcomes if outcomes else 0.5
        ring[i, s, E_HAS_FC] = row[OUT_HAS_FC + h]
        for f in range(FC):
            ring[i, s, E_FC + f] = row[OUT_FC + h * FC + f] if row[OUT_HAS_FC + h] else 0.0
        late_limit = horizon_s * cfg[C_TOLERANCE]
        trade(fixed, i, h, t, price, row[OUT_SIGNAL + h * 5], horizon_s, late_limit, fee_pct)


@helper
def stats(fixed, meta, i, row, ok, b_fit, rate):
    """SymbolModel.stats into the row."""
    row[OUT_STATS] = b_fit if ok else 0.0
    row[OUT_STATS + 1] = rate * 3600
    vol_n = meta[i, Q_VOL, 1]
    row[OUT_STATS + 2] = math.sqrt(max(fixed[i, VOL], 0.0) / vol_n) if vol_n >= 3 else np.nan
    row[OUT_STATS + 3] = fixed[i, TREND_WIN + 2]
    row[OUT_STATS + 4] = fixed[i, TICKS]


@njit
def run(fixed, rings, meta, cfg, sym, ts, prices, out, work):
    """Apply ticks k = 0.. of symbol rows sym[k] in order, writing out[k]; returns how many were
    applied and the queue that needs a larger ring (-1 when all were). `work`: WORK floats of
    scratch, the caller's."""
    x = work[:NK]
    b = NK + NK * (NK + 1)  # where the ridge's matrix ends
    scratch = Scratch(work[NK:b].reshape((NK, NK + 1)), work[b : b + NK])
    n = sym.shape[0]
    for k in range(n):
        i = sym[k]
        if k + 2 * AHEAD < n:
            prefetch_meta(meta, sym[k + 2 * AHEAD])
        if k + AHEAD < n:
            prefetch_symbol(fixed, rings, meta, sym[k + AHEAD])
        t, price = ts[k], prices[k]
        row = out[k]
        if t <= fixed[i, LAST_T]:
            row[OUT_OK] = 0.0
            continue
        full = ring_full(rings, meta, i)
        if full >= 0:
            return k, full
        row[OUT_OK] = 1.0
        fixed[i, LAST_T] = t
        fixed[i, TICKS] += 1
        row[OUT_SCORED] = settle(fixed, rings, meta, i, cfg, t, price, x)
        seed_models(fixed, rings, meta, i, cfg, t, price)
        sigma, last_r, last_span = forecaster_tick(fixed, rings, meta, i, cfg, t, price)
        ok, b_fit, rate = seed_predictions(fixed, rings, meta, i, cfg, t, price, last_r, row)
        headline(fixed, i, cfg, price, sigma, last_r, last_span, row, x, scratch)
        queue_moves(fixed, rings, meta, i, cfg, t, price, sigma, row)
        record(fixed, rings, meta, i, cfg, t, price, row)
        stats(fixed, meta, i, row, ok, b_fit, rate)
    return sym.shape[0], -1
