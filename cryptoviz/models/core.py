"""The compiled model core: `SymbolModel.update`'s arithmetic over many ticks of many symbols in one
call, compiled by numba, on the struct-of-arrays state that `cryptoviz.models.layout` lays out.

Each step below is the reference engine's (`engine`, `forecaster`, `estimators`, `fading`,
`moves`, `volatility`, `window`, `scoring`) in the same order with the same operations, so the
outputs agree with it to rounding (tests/test_book.py drives both over real history). The
reference classes' docstrings say what each step means; here they are only named.

`run` returns the number of ticks it applied: fewer than given when a queue needs a larger ring
(the book grows it and calls again from there), so a tick is never half applied.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, NamedTuple, cast

import numba
import numpy as np

from cryptoviz.models import layout
from cryptoviz.models.layout import (
    ACI_FLOOR,
    ALPHA,
    ALWAYS_UP,
    BRIER_FM,
    C_ACI_GAMMA,
    C_EDGES,
    C_FEE_BPS,
    C_HORIZON,
    C_LEVEL,
    C_MA_SPAN,
    C_MOM_SPAN,
    C_MOVE_DECAY,
    C_PENALTY,
    C_PRIOR,
    C_PUP_DECAY,
    C_REGIME_DECAY,
    C_RESID_DECAY,
    C_RIDGE_DECAY,
    C_SHRINK_DECAY,
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
    F_BOUNDS,
    F_FEATURES,
    F_POINT,
    F_PRAW,
    F_PUP,
    F_REGIME,
    F_SIGMA,
    F_ZPOINT,
    F_ZRIDGE,
    FC,
    FIRED,
    FIRST_P,
    FIRST_T,
    FM,
    HAC,
    HAC_VALUES,
    HAS_FIRST,
    INTERVALS,
    LAGS,
    LAST_DUE,
    LAST_T,
    MAX_RATIO,
    MIN_RESIDUALS,
    MOVE_ERROR,
    MOVE_LAST_DUE,
    MOVE_RATIO,
    MOVE_TALLY,
    NBLEND,
    NK,
    NL,
    NORMAL_ZS,
    NPBIN,
    NQ,
    NR,
    NS,
    NSHRINK,
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
    P_BLENDS,
    P_DRIFT,
    P_FORECAST,
    P_PERSISTENCE,
    P_REVERSAL,
    POSITION,
    PROB,
    PUP,
    Q_BOARD,
    Q_MA,
    Q_MOMENTUM,
    Q_MOVES,
    Q_RECENT,
    Q_TREND,
    Q_VOL,
    RELIABILITY_BINS,
    RESCALE_AT,
    RESID,
    RESID_HI,
    RESID_LO,
    RESIDUAL_BINS,
    RIDGE,
    SCORED_TOTAL,
    SHRINK_FM,
    SHRINK_T,
    SHRINKS,
    SIGMA_BINS,
    SIGMA_HI,
    SIGMA_LO,
    SIGMAS,
    SKILL,
    SUMS,
    TALLY,
    TICKS,
    TREND_LAST,
    VH,
    VOL,
    VOL_BLEND_W,
    WIN,
    H,
)

# numba caches the compiled core next to this file (or under NUMBA_CACHE_DIR), in a folder of the
# layout's fingerprint: a change to a constant imported here compiles afresh instead of loading
# code built for other offsets
_base = os.environ.get("NUMBA_CACHE_DIR") or str(Path(__file__).parent / "__pycache__")
cast(Any, numba.config).CACHE_DIR = str(Path(_base) / f"core-{layout.fingerprint()}")  # no stubs
# The core allocates nothing (its scratch memory, `work`, is the caller's), so it runs without
# numba's reference counting (`_nrt=False`; build_core sets the same for the ahead-of-time build):
# every array handed to a step or taken out of `rings` cost an atomic increment and decrement, a
# third of the core's time under `perf` (2.7 -> 1.9 us a tick). The steps are inlined into `run` by
# numba itself (inline="always"), which dropped the calls' share of those first (2.6 -> 2.3 us);
# compiling takes 16 s instead of 5. Without reference counting, no array may be made in here.
_OPTIONS: dict[str, Any] = {"cache": True, "_nrt": False}  # `_nrt` is not in numba's stubs
njit = numba.njit(**_OPTIONS)
helper = numba.njit(inline="always", **_OPTIONS)

HOUR = 3600.0


class Scratch(NamedTuple):
    a: np.ndarray  # the ridge's augmented matrix
    beta: np.ndarray  # its solution
    cum: np.ndarray  # a histogram's running sums


# --- queues: ring buffers; meta[i, q] = (head, length) ----------------------------------------
@helper
def _push(ring, meta, i, q):
    cap = ring.shape[1]
    slot = (meta[i, q, 0] + meta[i, q, 1]) % cap
    meta[i, q, 1] += 1
    return slot


@helper
def _first(ring, meta, i, q):
    return meta[i, q, 0]


@helper
def _last(ring, meta, i, q):
    return (meta[i, q, 0] + meta[i, q, 1] - 1) % ring.shape[1]


@helper
def _second(ring, meta, i, q):
    return (meta[i, q, 0] + 1) % ring.shape[1]


@helper
def _pop(ring, meta, i, q):
    slot = meta[i, q, 0]
    meta[i, q, 0] = (slot + 1) % ring.shape[1]
    meta[i, q, 1] -= 1
    return slot


# --- estimators ---------------------------------------------------------------------------------
@helper
def _weight(dt):
    """estimators.observation_weight"""
    return min(max(dt, 0.0), HOUR) / HOUR


@helper
def _faded(d, w):
    """The decay d over a weight w, d^w: raised once per outcome for every estimator that fades by d
    (exact when w is 1, as at hourly cadence)."""
    return d if w == 1.0 else d**w


@helper
def _fm_add(fixed, i, o, dw, x, w, span):
    fixed[i, o] = fixed[i, o] * dw + w
    fixed[i, o + 1] = fixed[i, o + 1] * dw * dw + w * max(w, span)
    fixed[i, o + 2] = fixed[i, o + 2] * dw + w * x
    fixed[i, o + 3] = fixed[i, o + 3] * dw + w * x * x


@helper
def _least_mean(fixed, i, o, n):
    """The first of n fading means (from column o) with the least value; 0 while they have none
    (they are fed together: all have values, or none has)."""
    if fixed[i, o] <= 0:
        return 0
    best, best_value = 0, math.inf
    for k in range(n):
        value = fixed[i, o + k * FM + 2] / fixed[i, o + k * FM]
        if value < best_value:
            best, best_value = k, value
    return best


@helper
def _fm_t_stat(fixed, i, o):
    sum_w, sum_w2, sum_x, sum_xx = fixed[i, o], fixed[i, o + 1], fixed[i, o + 2], fixed[i, o + 3]
    n_eff = sum_w * sum_w / sum_w2 if sum_w2 > 0 else 0.0
    if n_eff < 2:
        return 0.0
    mean = sum_x / sum_w
    var = max(sum_xx / sum_w - mean * mean, 0.0)
    return mean / math.sqrt(var / n_eff) if var > 0 else 0.0


@helper
def _ewma_update(fixed, i, o, halflife_h, t, price):
    if fixed[i, o + 2] > 0 and t > fixed[i, o + 3] and price > 0:
        dt_h = (t - fixed[i, o + 3]) / 3600.0
        r = math.log(price / fixed[i, o + 4])
        keep = 0.5 ** (dt_h / halflife_h)
        fixed[i, o] = keep * fixed[i, o] + (1 - keep) * (r * r / dt_h)
        fixed[i, o + 1] = keep * fixed[i, o + 1] + (1 - keep)
    if price > 0:
        fixed[i, o + 2] = 1.0
        fixed[i, o + 3] = t
        fixed[i, o + 4] = price


@helper
def _ewma_hourly(fixed, i, o):
    """The hourly volatility; -1.0 for the reference's None (every use reads <= 0 as none, as the
    reference reads None and 0.0 alike)."""
    if fixed[i, o + 1] < 1 - 0.5**0.1:
        return -1.0
    return math.sqrt(fixed[i, o] / fixed[i, o + 1])


@helper
def _hist_add(fixed, i, o, bins, lo, width, dw, x, w):
    g = fixed[i, o] / dw
    if g > RESCALE_AT:
        scale = 1.0 / g
        for j in range(bins):
            fixed[i, o + 2 + j] = fixed[i, o + 2 + j] * scale
        fixed[i, o + 1] *= scale
        g = 1.0
    fixed[i, o] = g
    k = min(bins - 1, max(0, int((x - lo) / width)))
    fixed[i, o + 2 + k] += w * g
    fixed[i, o + 1] += w * g


@helper
def _hist_weight(fixed, i, o):
    return fixed[i, o + 1] / fixed[i, o]


@helper
def _hist_cdf(fixed, i, o, bins, lo, width, x):
    total = fixed[i, o + 1]
    if total <= 0:
        return 0.5
    pos = (x - lo) / width
    k = min(bins - 1, max(0, int(pos)))
    below = 0.0
    for j in range(k):
        below += fixed[i, o + 2 + j]
    below += fixed[i, o + 2 + k] * min(1.0, max(0.0, pos - k))
    return below / total


@helper
def _hist_quantile(cum, bins, lo, hi, width, p):
    total = cum[bins - 1]
    target = p * total
    k = 0  # bisect_left
    lo_k, hi_k = 0, bins
    while lo_k < hi_k:
        mid = (lo_k + hi_k) // 2
        if cum[mid] < target:
            lo_k = mid + 1
        else:
            hi_k = mid
    k = lo_k
    if k >= bins:
        return hi
    below = cum[k - 1] if k else 0.0
    inside = cum[k] - below
    return lo + (k + ((target - below) / inside if inside > 0 else 0.0)) * width


@helper
def _binned_bin(cfg, score):
    k = 0  # bisect_right over the edges
    for j in range(NPBIN - 1):
        if cfg[C_EDGES + j] <= score:
            k = j + 1
    return k


@helper
def _binned_base(fixed, i, o):
    total_n = fixed[i, o + 1 + 2 * NPBIN]
    return fixed[i, o + 2 + 2 * NPBIN] / total_n if total_n > 0 else 0.5


@helper
def _binned_rate(fixed, i, o, cfg, h, score):
    k = _binned_bin(cfg, score)
    prior_w = cfg[C_PRIOR + h] * fixed[i, o]
    return (fixed[i, o + 1 + NPBIN + k] + prior_w * _binned_base(fixed, i, o)) / (
        fixed[i, o + 1 + k] + prior_w
    )


@helper
def _binned_add(fixed, i, o, cfg, score, event, dw, w):
    g = fixed[i, o] / dw
    if g > RESCALE_AT:
        s = 1.0 / g
        for j in range(2 * NPBIN):
            fixed[i, o + 1 + j] = fixed[i, o + 1 + j] * s
        g = 1.0
    fixed[i, o] = g
    k = _binned_bin(cfg, score)
    fixed[i, o + 1 + k] += w * g
    fixed[i, o + 1 + 2 * NPBIN] += w
    if event:
        fixed[i, o + 1 + NPBIN + k] += w * g
        fixed[i, o + 2 + 2 * NPBIN] += w


@helper
def _ridge_predict(fixed, i, o, penalty, x, a, beta):
    """a: an (NK, NK + 1) and beta an (NK,) scratch array."""
    for r in range(NK):
        for c in range(NK):
            a[r, c] = fixed[i, o + r * NK + c] + (penalty if r == c else 0.0)
        a[r, NK] = fixed[i, o + NK * NK + r]
    for col in range(NK):
        pivot = col
        for r in range(col + 1, NK):
            if abs(a[r, col]) > abs(a[pivot, col]):
                pivot = r
        if pivot != col:
            for c in range(NK + 1):
                a[col, c], a[pivot, c] = a[pivot, c], a[col, c]
        p = a[col, col]
        if abs(p) < 1e-300:
            return 0.0
        for r in range(col + 1, NK):
            f = a[r, col] / p
            if f:
                for c in range(col, NK + 1):
                    a[r, c] -= f * a[col, c]
    for r in range(NK - 1, -1, -1):
        s = 0.0
        for c in range(r + 1, NK):
            s += a[r, c] * beta[c]
        beta[r] = (a[r, NK] - s) / a[r, r]
    out = 0.0
    for r in range(NK):
        out += beta[r] * x[r]
    return out


@helper
def _ridge_add(fixed, i, o, dw, x, y, w):
    for r in range(NK):
        xi = w * x[r]
        for c in range(NK):
            fixed[i, o + r * NK + c] = fixed[i, o + r * NK + c] * dw + xi * x[c]
        fixed[i, o + NK * NK + r] = fixed[i, o + NK * NK + r] * dw + xi * y


@helper
def _hac_add(fixed, i, o, lags, x, due):
    """HacMean.add: the outcome into its hour's bucket, the bucket before it closed into the HAC."""
    v = o + HAC_VALUES
    hour = math.floor(due / HOUR)
    if fixed[i, v + 4] and hour != fixed[i, v + 2]:
        _hac_push(fixed, i, o, lags, fixed[i, v + 3] / fixed[i, v + 4])
        fixed[i, v + 3] = 0.0
        fixed[i, v + 4] = 0.0
    fixed[i, v + 2] = hour
    fixed[i, v + 3] += x
    fixed[i, v + 4] += 1
    fixed[i, v] += 1
    fixed[i, v + 1] += x


@helper
def _hac_push(fixed, i, o, lags, x):
    n = int(fixed[i, o])
    recent = o + 4 + (lags + 1) + lags  # the ring of the last `lags` values: value j at slot j % lags
    for k in range(1, min(n, lags) + 1):
        fixed[i, o + 4 + k] += x * fixed[i, recent + (n - k) % lags]
    fixed[i, o] = n + 1
    fixed[i, o + 1] += x
    fixed[i, o + 2] += x * x
    if fixed[i, o + 3] < lags:
        fixed[i, o + 4 + (lags + 1) + int(fixed[i, o + 3])] = x
        fixed[i, o + 3] += 1
    fixed[i, recent + n % lags] = x


@helper
def _clip(x):
    return max(-CLIP, min(CLIP, x))


@helper
def _blend(quick, short, long, b):
    """moves._blend with VOL_BLENDS[b]"""
    w = 3 * b
    return math.sqrt(
        VOL_BLEND_W[w] * quick * quick + VOL_BLEND_W[w + 1] * short * short + VOL_BLEND_W[w + 2] * long * long
    )


# --- one tick -----------------------------------------------------------------------------------
@helper
def _window_add(fixed, rings, meta, i, w, q, span, t, p):
    o = WIN + 8 * w
    ring = rings[q]
    if fixed[i, o + 1] == 0:
        fixed[i, o] = t
        fixed[i, o + 1] = 1.0
    anchor = fixed[i, o]
    x = (t - anchor) / 3600.0
    s = _push(ring, meta, i, q)
    ring[i, s, 0] = t
    ring[i, s, 1] = p
    fixed[i, o + 2] += 1
    fixed[i, o + 3] += x
    fixed[i, o + 4] += p
    fixed[i, o + 5] += x * x
    fixed[i, o + 6] += x * p
    cutoff = t - span
    while ring[i, _first(ring, meta, i, q), 0] < cutoff:
        s = _pop(ring, meta, i, q)
        t0, p0 = ring[i, s, 0], ring[i, s, 1]
        x0 = (t0 - anchor) / 3600.0
        fixed[i, o + 2] -= 1
        fixed[i, o + 3] -= x0
        fixed[i, o + 4] -= p0
        fixed[i, o + 5] -= x0 * x0
        fixed[i, o + 6] -= x0 * p0
        fixed[i, o + 7] += 1
    if fixed[i, o + 7] >= 4096:  # TimeWindow.REBUILD
        _window_rebuild(fixed, ring, meta, i, o, q)


@helper
def _window_rebuild(fixed, ring, meta, i, o, q):
    fixed[i, o + 7] = 0.0
    anchor = ring[i, _first(ring, meta, i, q), 0]
    fixed[i, o] = anchor
    fixed[i, o + 1] = 1.0
    fixed[i, o + 2] = meta[i, q, 1]
    st = sp = stt = stp = 0.0
    cap = ring.shape[1]
    for k in range(meta[i, q, 1]):
        s = (meta[i, q, 0] + k) % cap
        x = (ring[i, s, 0] - anchor) / 3600.0
        p = ring[i, s, 1]
        st += x
        sp += p
        stt += x * x
        stp += x * p
    fixed[i, o + 3], fixed[i, o + 4], fixed[i, o + 5], fixed[i, o + 6] = st, sp, stt, stp


@helper
def _window_fit(fixed, i, o):
    """(ok, a, b) of the least-squares line over the window."""
    n = fixed[i, o + 2]
    if n < 2:
        return False, 0.0, 0.0
    st, sp, stt, stp = fixed[i, o + 3], fixed[i, o + 4], fixed[i, o + 5], fixed[i, o + 6]
    denom = n * stt - st * st
    if denom <= 1e-12 * max(1.0, stt * n):
        return False, 0.0, 0.0
    b = (n * stp - st * sp) / denom
    a = (sp - b * st) / n
    return True, a, b


@helper
def _score_entry(fixed, i, h, ring, s, price, cfg):
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
            _hac_add(
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
def _close(fixed, i, h, price, fee_pct):
    """HorizonScore._close"""
    p = POSITION + h * 3
    move = fixed[i, p] * (price - fixed[i, p + 1])
    o = FIRED + h * 3
    fixed[i, o] += 1
    fixed[i, o + 1] += 1.0 if move > 0 else 0.0
    fixed[i, o + 2] += move / fixed[i, p + 1] * 100 - fee_pct
    fixed[i, p] = fixed[i, p + 1] = fixed[i, p + 2] = 0.0


@helper
def _trade(fixed, i, h, t, price, direction, horizon_s, late_limit, fee_pct):
    """HorizonScore.trade"""
    p = POSITION + h * 3
    held = fixed[i, p]
    if held != 0 and t >= fixed[i, p + 2]:
        if t - fixed[i, p + 2] > late_limit:
            fixed[i, p] = fixed[i, p + 1] = fixed[i, p + 2] = 0.0
            held = 0.0
        elif direction != held:
            _close(fixed, i, h, price, fee_pct)
            held = 0.0
    if direction == 0:
        return
    if held == direction:
        fixed[i, p + 2] = t + horizon_s
        return
    if held != 0:
        _close(fixed, i, h, price, fee_pct)
    fixed[i, p], fixed[i, p + 1], fixed[i, p + 2] = direction, price, t + horizon_s


@helper
def _learn(fixed, i, h, cfg, ring, s, outcome, x):
    """HorizonForecaster.learn from a settled prediction's forecast (ring slot s)."""
    fc = E_FC
    due = ring[i, s, E_DUE]
    w = _weight(due - fixed[i, LAST_DUE + h])
    fixed[i, LAST_DUE + h] = due
    base = ring[i, s, E_BASE]
    span = cfg[C_HORIZON + h] / HOUR
    scale = ring[i, s, fc + F_SIGMA] * math.sqrt(span)
    z = _clip(math.log(outcome / base) / scale)
    for k in range(NK):
        x[k] = ring[i, s, fc + F_FEATURES + k]
    _ridge_add(fixed, i, RIDGE + h * (NK * NK + NK), _faded(cfg[C_RIDGE_DECAY], w), x, z, w)
    regime = int(ring[i, s, fc + F_REGIME])
    bins = RESIDUAL_BINS
    width = (RESID_HI - RESID_LO) / bins
    d_resid = _faded(cfg[C_RESID_DECAY], w)
    for r in (regime, NR):  # the regime's residuals and every regime's
        _hist_add(
            fixed, i, RESID + (h * (NR + 1) + r) * (2 + bins), bins, RESID_LO, width, d_resid,
            z - ring[i, s, fc + F_ZPOINT], w,
        )  # fmt: skip
    up = 1.0 if outcome > base else 0.0
    po = PUP + h * (1 + 2 * NPBIN + 2)
    p_raw = ring[i, s, fc + F_PRAW]
    binned, rate = _binned_rate(fixed, i, po, cfg, h, p_raw), _binned_base(fixed, i, po)
    d_shrink = _faded(cfg[C_SHRINK_DECAY], w)
    for k in range(NBLEND):
        brier = (rate + P_BLENDS[k] * (binned - rate) - up) ** 2
        _fm_add(fixed, i, BRIER_FM + (h * NBLEND + k) * FM, d_shrink, brier, w, span)
    _binned_add(fixed, i, po, cfg, p_raw, up > 0, _faded(cfg[C_PUP_DECAY], w), w)
    z_ridge = ring[i, s, fc + F_ZRIDGE]
    for k in range(NSHRINK):
        _fm_add(
            fixed, i, SHRINK_FM + (h * NSHRINK + k) * FM, d_shrink,
            (abs(z) - abs(z - SHRINKS[k] * z_ridge)) * scale * 100, w, span,
        )  # fmt: skip
    for lv in range(NL):
        low, high = ring[i, s, fc + F_BOUNDS + 2 * lv], ring[i, s, fc + F_BOUNDS + 2 * lv + 1]
        missed = 0.0 if low <= outcome <= high else 1.0
        a = ALPHA + (h * NR + regime) * NL + lv
        fixed[i, a] = min(
            0.5, max(ACI_FLOOR, fixed[i, a] + cfg[C_ACI_GAMMA] * w * (cfg[C_LEVEL + lv] - missed))
        )


@helper
def _settle_moves(fixed, rings, meta, i, cfg, t, price):
    for v in range(VH):
        q = Q_MOVES + v
        ring = rings[q]
        late = cfg[C_VOL_HORIZON + v] * cfg[C_TOLERANCE]
        while meta[i, q, 1] and ring[i, _first(ring, meta, i, q), 0] <= t:
            s = _pop(ring, meta, i, q)
            due, base, short, long, expected, quick = (
                ring[i, s, 0], ring[i, s, 1], ring[i, s, 2], ring[i, s, 3], ring[i, s, 4], ring[i, s, 5],
            )  # fmt: skip
            if t - due > late:
                continue
            realised = abs(math.log(price / base))
            w = _weight(due - fixed[i, MOVE_LAST_DUE + v])
            fixed[i, MOVE_LAST_DUE + v] = due
            span = cfg[C_VOL_HORIZON + v] / HOUR
            d_move = _faded(cfg[C_MOVE_DECAY], w)
            for b in range(NVB):
                ro = MOVE_RATIO + (v * NVB + b) * FM
                eo = MOVE_ERROR + (v * NVB + b) * FM
                scale = _blend(quick, short, long, b)
                if fixed[i, ro] > 0:
                    c = fixed[i, ro + 2] / fixed[i, ro]
                    error = (realised - c * scale) ** 2 / (short * short)
                    _fm_add(fixed, i, eo, d_move, error, w, span)
                _fm_add(fixed, i, ro, d_move, min(realised / scale, MAX_RATIO), w, span)
            mo = MOVE_TALLY + v * 6  # Scoreboard.score_moves -> MoveTally.add
            fixed[i, mo] = 1.0
            realised_pct = realised * 100
            if fixed[i, mo + 5]:
                constant = fixed[i, mo + 4] / fixed[i, mo + 5]
                fixed[i, mo + 1] += 1
                fixed[i, mo + 2] += (realised_pct - expected) ** 2
                fixed[i, mo + 3] += (realised_pct - constant) ** 2
            fixed[i, mo + 4] += realised_pct
            fixed[i, mo + 5] += 1


@helper
def _forecast(fixed, i, h, cfg, price, sigma, regime, x, out, o, scratch):
    """HorizonForecaster.forecast into out[o: o + FC]."""
    scale = sigma * math.sqrt(cfg[C_HORIZON + h] / HOUR)
    z_ridge = _ridge_predict(
        fixed, i, RIDGE + h * (NK * NK + NK), cfg[C_PENALTY + h], x, scratch.a, scratch.beta
    )
    best, best_gain = 0, 0.0
    for k in range(NSHRINK):
        go = SHRINK_FM + (h * NSHRINK + k) * FM
        if fixed[i, go] > 0:
            mean = fixed[i, go + 2] / fixed[i, go]
            if mean > best_gain and _fm_t_stat(fixed, i, go) > SHRINK_T:
                best, best_gain = k, mean
    z = SHRINKS[best] * z_ridge
    bins = RESIDUAL_BINS
    width = (RESID_HI - RESID_LO) / bins
    ho = _residuals(fixed, i, h, regime)
    if ho >= 0:
        cum = scratch.cum
        acc = 0.0
        for j in range(bins):
            acc += fixed[i, ho + 2 + j]
            cum[j] = acc
        for lv in range(NL):
            alpha = fixed[i, ALPHA + (h * NR + regime) * NL + lv]
            lo = _hist_quantile(cum, bins, RESID_LO, RESID_HI, width, alpha / 2)
            hi = _hist_quantile(cum, bins, RESID_LO, RESID_HI, width, 1 - alpha / 2)
            out[o + F_BOUNDS + 2 * lv] = price * math.exp((z + lo) * scale)
            out[o + F_BOUNDS + 2 * lv + 1] = price * math.exp((z + hi) * scale)
        raw = 1.0 - _hist_cdf(fixed, i, ho, bins, RESID_LO, width, -z)
        po = PUP + h * (1 + 2 * NPBIN + 2)
        binned, base = _binned_rate(fixed, i, po, cfg, h, raw), _binned_base(fixed, i, po)
        k = _least_mean(fixed, i, BRIER_FM + h * NBLEND * FM, NBLEND)
        p_up = base + P_BLENDS[k] * (binned - base)
    else:
        raw = 0.5
        for lv in range(NL):
            q = NORMAL_ZS[lv]
            out[o + F_BOUNDS + 2 * lv] = price * math.exp((z - q) * scale)
            out[o + F_BOUNDS + 2 * lv + 1] = price * math.exp((z + q) * scale)
        p_up = 0.5
    out[o + F_POINT] = price * math.exp(z * scale)
    out[o + F_PUP] = p_up
    out[o + F_PRAW] = raw
    out[o + F_REGIME] = regime
    out[o + F_SIGMA] = sigma
    for k in range(NK):
        out[o + F_FEATURES + k] = x[k]
    out[o + F_ZPOINT] = z
    out[o + F_ZRIDGE] = z_ridge


@helper
def _residuals(fixed, i, h, regime):
    """HorizonForecaster._residuals: the column of the histogram to use, -1 for none."""
    for r in (regime, NR):
        o = RESID + (h * (NR + 1) + r) * (2 + RESIDUAL_BINS)
        if _hist_weight(fixed, i, o) >= MIN_RESIDUALS:
            return o
    return -1


@helper
def _room(rings, meta, i):
    for q in range(NQ):
        if meta[i, q, 1] >= rings[q].shape[1]:
            return q
    return -1


@njit
def run(fixed, rings, meta, cfg, sym, ts, prices, out, work):
    """Apply ticks k = 0.. of symbol rows sym[k] in order, writing out[k]; returns how many were
    applied and the queue that needs a larger ring (-1 when all were). `work`: WORK floats of
    scratch, the caller's."""
    x = work[:NK]
    b = NK + NK * (NK + 1)  # where the ridge's matrix ends
    scratch = Scratch(
        work[NK:b].reshape((NK, NK + 1)), work[b : b + NK], work[b + NK : b + NK + RESIDUAL_BINS]
    )
    for k in range(sym.shape[0]):
        i = sym[k]
        t, price = ts[k], prices[k]
        row = out[k]
        if t <= fixed[i, LAST_T]:
            row[OUT_OK] = 0.0
            continue
        full = _room(rings, meta, i)
        if full >= 0:
            return k, full
        row[OUT_OK] = 1.0
        fixed[i, LAST_T] = t
        fixed[i, TICKS] += 1
        # the scoreboard: what is due now, then the forecaster learns from it
        scored = 0
        fee_pct = cfg[C_FEE_BPS] / 100
        for h in range(H):
            q = Q_BOARD + h
            ring = rings[q]
            late_limit = cfg[C_HORIZON + h] * cfg[C_TOLERANCE]
            while meta[i, q, 1] and ring[i, _first(ring, meta, i, q), E_DUE] <= t:
                s = _pop(ring, meta, i, q)
                if t - ring[i, s, E_DUE] > late_limit:
                    fixed[i, OUTCOMES + h * 3 + 2] += 1
                    continue
                if _score_entry(fixed, i, h, ring, s, price, cfg):
                    _learn(fixed, i, h, cfg, ring, s, price, x)
                scored += 1
        fixed[i, SCORED_TOTAL] += scored
        row[OUT_SCORED] = scored
        _settle_moves(fixed, rings, meta, i, cfg, t, price)
        # the seed's models and the volatilities
        _window_add(fixed, rings, meta, i, 0, Q_MA, cfg[C_MA_SPAN], t, price)
        _window_add(fixed, rings, meta, i, 1, Q_TREND, cfg[C_TREND_SPAN], t, price)
        fixed[i, TREND_LAST] = price
        ring = rings[Q_MOMENTUM]
        s = _push(ring, meta, i, Q_MOMENTUM)
        ring[i, s, 0], ring[i, s, 1] = t, price
        while ring[i, _first(ring, meta, i, Q_MOMENTUM), 0] < t - cfg[C_MOM_SPAN]:
            _pop(ring, meta, i, Q_MOMENTUM)
        if fixed[i, VOL + 1] > 0 and t > fixed[i, VOL + 2]:
            dt_h = (t - fixed[i, VOL + 2]) / 3600.0
            r = math.log(price / fixed[i, VOL + 3])
            sq = r * r / dt_h
            ring = rings[Q_VOL]
            s = _push(ring, meta, i, Q_VOL)
            ring[i, s, 0], ring[i, s, 1] = t, sq
            fixed[i, VOL] += sq
            while ring[i, _first(ring, meta, i, Q_VOL), 0] < t - cfg[C_VOL_SPAN]:
                fixed[i, VOL] -= ring[i, _pop(ring, meta, i, Q_VOL), 1]
        fixed[i, VOL + 1], fixed[i, VOL + 2], fixed[i, VOL + 3] = 1.0, t, price
        # the forecaster's tick
        _ewma_update(fixed, i, EWMA, cfg[C_VOL_HALFLIFE], t, price)
        _ewma_update(fixed, i, EWMA + 5, cfg[C_VOL_LONG_HALFLIFE], t, price)
        _ewma_update(fixed, i, EWMA + 10, cfg[C_VOL_QUICK_HALFLIFE], t, price)
        ring = rings[Q_RECENT]
        w_tick = _weight(t - ring[i, _last(ring, meta, i, Q_RECENT), 0]) if meta[i, Q_RECENT, 1] else 1.0
        s = _push(ring, meta, i, Q_RECENT)
        ring[i, s, 0], ring[i, s, 1] = t, price
        while meta[i, Q_RECENT, 1] > 2 and ring[i, _second(ring, meta, i, Q_RECENT), 0] <= t - HOUR:
            _pop(ring, meta, i, Q_RECENT)
        sigma = _ewma_hourly(fixed, i, EWMA)
        sigma_bins = SIGMA_BINS
        sigma_width = (SIGMA_HI - SIGMA_LO) / sigma_bins
        if sigma > 0:
            _hist_add(
                fixed, i, SIGMAS, sigma_bins, SIGMA_LO, sigma_width, _faded(cfg[C_REGIME_DECAY], w_tick),
                math.log(sigma), w_tick,
            )  # fmt: skip
        # the last hour's move
        n_recent = meta[i, Q_RECENT, 1]
        if n_recent < 2:
            last_r, last_span = 0.0, HOUR
        else:
            a, b = _first(ring, meta, i, Q_RECENT), _last(ring, meta, i, Q_RECENT)
            last_r, last_span = math.log(ring[i, b, 1] / ring[i, a, 1]), ring[i, b, 0] - ring[i, a, 0]
        reversal = price * math.exp(-last_r) if fixed[i, TICKS] > 1 else price
        if fixed[i, HAS_FIRST] == 0:
            fixed[i, HAS_FIRST], fixed[i, FIRST_T], fixed[i, FIRST_P] = 1.0, t, price
        elapsed = t - fixed[i, FIRST_T]
        drift_rate = math.log(price / fixed[i, FIRST_P]) / elapsed if elapsed > 0 else 0.0
        # the seed's predictions
        ma = fixed[i, WIN + 4] / fixed[i, WIN + 2]
        to = WIN + 8
        ok, a_fit, b_fit = _window_fit(fixed, i, to)
        ring = rings[Q_MOMENTUM]
        m0, m1 = _first(ring, meta, i, Q_MOMENTUM), _last(ring, meta, i, Q_MOMENTUM)
        t0, p0, t1, p1 = ring[i, m0, 0], ring[i, m0, 1], ring[i, m1, 0], ring[i, m1, 1]
        rate = (p1 - p0) / (t1 - t0) if t1 > t0 else 0.0
        w0, w1, w2 = cfg[C_W0], cfg[C_W1], cfg[C_W2]
        total_w = ((0.0 + w0) + w1) + w2
        for h in range(H):
            horizon_s = cfg[C_HORIZON + h]
            lt = a_fit + b_fit * ((t + horizon_s - fixed[i, to]) / 3600.0) if ok else fixed[i, TREND_LAST]
            mo = p1 + rate * horizon_s
            po = OUT_PRED + h * NS
            row[po], row[po + 1], row[po + 2] = ma, lt, mo
            row[po + 3] = (((0.0 + ma * w0) + lt * w1) + mo * w2) / total_w
            row[po + P_PERSISTENCE] = price
            row[po + P_DRIFT] = price * math.exp(drift_rate * horizon_s)
            row[po + P_REVERSAL] = reversal
        # the headline forecast
        regime = 1
        if sigma > 0:
            if _hist_weight(fixed, i, SIGMAS) < MIN_RESIDUALS:
                regime = 1
            else:
                u = _hist_cdf(fixed, i, SIGMAS, sigma_bins, SIGMA_LO, sigma_width, math.log(sigma))
                regime = 0 if u < 1 / 3 else (1 if u < 2 / 3 else 2)
        for h in range(H):
            po = OUT_PRED + h * NS
            if sigma > 0:
                scale = sigma * math.sqrt(cfg[C_HORIZON + h] / HOUR)
                last = last_r / (sigma * math.sqrt(max(last_span, 1.0) / HOUR))
                dist = math.log(price / ma) / scale if ma else 0.0
                seed = math.log(row[po + 3] / price) / scale if row[po + 3] > 0 else -CLIP
                x[0], x[1], x[2] = _clip(seed), _clip(last), _clip(dist)
                _forecast(fixed, i, h, cfg, price, sigma, regime, x, row, OUT_FC + h * FC, scratch)
                row[OUT_HAS_FC + h] = 1.0
                forecast, p_up = row[OUT_FC + h * FC + F_POINT], row[OUT_FC + h * FC + F_PUP]
            else:
                row[OUT_HAS_FC + h] = 0.0
                forecast, p_up = price, 0.5
            row[po + P_FORECAST] = forecast
            # the signal (signals.decide; its rounding is the book's, when a Signal is made)
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
        # the expected moves, queued to be learnt from
        if sigma > 0:
            row[OUT_HAS_MOVES] = 1.0
            long = _ewma_hourly(fixed, i, EWMA + 5)
            if long <= 0:
                long = sigma
            quick = _ewma_hourly(fixed, i, EWMA + 10)
            if quick <= 0:
                quick = sigma
            for v in range(VH):
                s_v = cfg[C_VOL_HORIZON + v]
                root_h = math.sqrt(s_v / HOUR)
                b = _least_mean(fixed, i, MOVE_ERROR + v * NVB * FM, NVB)
                ro = MOVE_RATIO + (v * NVB + b) * FM
                c = fixed[i, ro + 2] / fixed[i, ro] if fixed[i, ro] > 0 else math.sqrt(2 / math.pi)
                expected = c * _blend(quick, sigma, long, b) * root_h * 100
                row[OUT_MOVES + v] = expected
                ring = rings[Q_MOVES + v]
                s = _push(ring, meta, i, Q_MOVES + v)
                ring[i, s, 0], ring[i, s, 1], ring[i, s, 2] = t + s_v, price, sigma * root_h
                ring[i, s, 3], ring[i, s, 4], ring[i, s, 5] = long * root_h, expected, quick * root_h
        else:
            row[OUT_HAS_MOVES] = 0.0
        # the scoreboard keeps this tick's predictions until they are due
        for h in range(H):
            q = Q_BOARD + h
            ring = rings[q]
            s = _push(ring, meta, i, q)
            po = OUT_PRED + h * NS
            ring[i, s, E_DUE] = t + cfg[C_HORIZON + h]
            ring[i, s, E_BASE] = price
            for m in range(NS):
                ring[i, s, E_PRED + m] = row[po + m]
            ring[i, s, E_BASE_RATE] = (
                fixed[i, OUTCOMES + h * 3] / fixed[i, OUTCOMES + h * 3 + 1]
                if fixed[i, OUTCOMES + h * 3 + 1]
                else 0.5
            )
            ring[i, s, E_HAS_FC] = row[OUT_HAS_FC + h]
            for f in range(FC):
                ring[i, s, E_FC + f] = row[OUT_FC + h * FC + f] if row[OUT_HAS_FC + h] else 0.0
            horizon_s = cfg[C_HORIZON + h]
            late_limit = horizon_s * cfg[C_TOLERANCE]
            _trade(fixed, i, h, t, price, row[OUT_SIGNAL + h * 5], horizon_s, late_limit, fee_pct)
        # the stats
        row[OUT_STATS] = b_fit if ok else 0.0
        row[OUT_STATS + 1] = rate * 3600
        vol_n = meta[i, Q_VOL, 1]
        row[OUT_STATS + 2] = math.sqrt(max(fixed[i, VOL], 0.0) / vol_n) if vol_n >= 3 else np.nan
        row[OUT_STATS + 3] = fixed[i, to + 2]
        row[OUT_STATS + 4] = fixed[i, TICKS]
    return sym.shape[0], -1
