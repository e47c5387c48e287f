"""The compiled core's headline forecast: learning from a settled outcome
(`forecaster.HorizonForecaster.learn`), the forecast itself (`HorizonForecaster.forecast`) and the
expected moves learnt when due (`moves.MoveForecaster.settle`). Inlined into `core.run`."""

from __future__ import annotations

import math

from cryptoviz.models.core_estimators import (
    binned_add,
    binned_base,
    binned_rate,
    blend,
    blocked_cdf,
    blocked_quantile,
    blocked_total,
    clip,
    faded,
    fm_add,
    fm_t_stat,
    hist_add,
    hist_weight,
    least_mean,
    observation_weight,
    ridge_add,
    ridge_predict,
)
from cryptoviz.models.core_jit import HOUR, helper
from cryptoviz.models.core_rings import ring_first, ring_pop
from cryptoviz.models.layout import (
    ACI_FLOOR,
    ALPHA,
    BRIER_FM,
    C_ACI_GAMMA,
    C_HORIZON,
    C_LEVEL,
    C_MOVE_DECAY,
    C_PENALTY,
    C_PUP_DECAY,
    C_RESID_DECAY,
    C_RIDGE_DECAY,
    C_SHRINK_DECAY,
    C_TOLERANCE,
    C_VOL_HORIZON,
    E_BASE,
    E_DUE,
    E_FC,
    F_BOUNDS,
    F_FEATURES,
    F_POINT,
    F_PRAW,
    F_PUP,
    F_REGIME,
    F_SIGMA,
    F_ZPOINT,
    F_ZRIDGE,
    FM,
    LAST_DUE,
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
    NR,
    NRB,
    NSHRINK,
    NVB,
    P_BLENDS,
    PUP,
    Q_MOVES,
    RESID,
    RESID_BLOCK,
    RESID_HI,
    RESID_LO,
    RESID_SUMS,
    RESIDUAL_BINS,
    RIDGE,
    SHRINK_FM,
    SHRINK_T,
    SHRINKS,
    VH,
)


@helper
def learn_outcome(fixed, i, h, cfg, ring, s, outcome, x):
    """HorizonForecaster.learn from a settled prediction's forecast (ring slot s)."""
    fc = E_FC
    due = ring[i, s, E_DUE]
    w = observation_weight(due - fixed[i, LAST_DUE + h])
    fixed[i, LAST_DUE + h] = due
    base = ring[i, s, E_BASE]
    span = cfg[C_HORIZON + h] / HOUR
    scale = ring[i, s, fc + F_SIGMA] * math.sqrt(span)
    z = clip(math.log(outcome / base) / scale)
    for k in range(NK):
        x[k] = ring[i, s, fc + F_FEATURES + k]
    ridge_add(fixed, i, RIDGE + h * (NK * NK + NK), faded(cfg[C_RIDGE_DECAY], w), x, z, w)
    regime = int(ring[i, s, fc + F_REGIME])
    bins = RESIDUAL_BINS
    width = (RESID_HI - RESID_LO) / bins
    d_resid = faded(cfg[C_RESID_DECAY], w)
    for r in (regime, NR):  # the regime's residuals and every regime's
        o, so = residual_histogram(h, r)
        hist_add(
            fixed, i, o, bins, RESID_LO, width, d_resid, z - ring[i, s, fc + F_ZPOINT], w, so, RESID_BLOCK
        )
    up = 1.0 if outcome > base else 0.0
    po = PUP + h * (1 + 2 * NPBIN + 2)
    p_raw = ring[i, s, fc + F_PRAW]
    binned, rate = binned_rate(fixed, i, po, cfg, h, p_raw), binned_base(fixed, i, po)
    d_shrink = faded(cfg[C_SHRINK_DECAY], w)
    for k in range(NBLEND):
        brier = (rate + P_BLENDS[k] * (binned - rate) - up) ** 2
        fm_add(fixed, i, BRIER_FM + (h * NBLEND + k) * FM, d_shrink, brier, w, span)
    binned_add(fixed, i, po, cfg, p_raw, up > 0, faded(cfg[C_PUP_DECAY], w), w)
    z_ridge = ring[i, s, fc + F_ZRIDGE]
    for k in range(NSHRINK):
        fm_add(
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
def settle_moves(fixed, rings, meta, i, cfg, t, price):
    for v in range(VH):
        q = Q_MOVES + v
        ring = rings[q]
        late = cfg[C_VOL_HORIZON + v] * cfg[C_TOLERANCE]
        while meta[i, q, 1] and ring[i, ring_first(ring, meta, i, q), 0] <= t:
            s = ring_pop(ring, meta, i, q)
            due, base, short, long, expected, quick = (
                ring[i, s, 0], ring[i, s, 1], ring[i, s, 2], ring[i, s, 3], ring[i, s, 4], ring[i, s, 5],
            )  # fmt: skip
            if t - due > late:
                continue
            realised = abs(math.log(price / base))
            w = observation_weight(due - fixed[i, MOVE_LAST_DUE + v])
            fixed[i, MOVE_LAST_DUE + v] = due
            span = cfg[C_VOL_HORIZON + v] / HOUR
            d_move = faded(cfg[C_MOVE_DECAY], w)
            for b in range(NVB):
                ro = MOVE_RATIO + (v * NVB + b) * FM
                eo = MOVE_ERROR + (v * NVB + b) * FM
                scale = blend(quick, short, long, b)
                if fixed[i, ro] > 0:
                    c = fixed[i, ro + 2] / fixed[i, ro]
                    error = (realised - c * scale) ** 2 / (short * short)
                    fm_add(fixed, i, eo, d_move, error, w, span)
                fm_add(fixed, i, ro, d_move, min(realised / scale, MAX_RATIO), w, span)
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
def forecast_into(fixed, i, h, cfg, price, sigma, regime, x, out, o, scratch):
    """HorizonForecaster.forecast into out[o: o + FC]."""
    scale = sigma * math.sqrt(cfg[C_HORIZON + h] / HOUR)
    z_ridge = ridge_predict(
        fixed, i, RIDGE + h * (NK * NK + NK), cfg[C_PENALTY + h], x, scratch.a, scratch.beta
    )
    best, best_gain = 0, 0.0
    for k in range(NSHRINK):
        go = SHRINK_FM + (h * NSHRINK + k) * FM
        if fixed[i, go] > 0:
            mean = fixed[i, go + 2] / fixed[i, go]
            if mean > best_gain and fm_t_stat(fixed, i, go) > SHRINK_T:
                best, best_gain = k, mean
    z = SHRINKS[best] * z_ridge
    bins = RESIDUAL_BINS
    width = (RESID_HI - RESID_LO) / bins
    ho, so = residual_column(fixed, i, h, regime)
    if ho >= 0:
        total = blocked_total(fixed, i, so, NRB)
        for lv in range(NL):
            alpha = fixed[i, ALPHA + (h * NR + regime) * NL + lv]
            lo = blocked_quantile(
                fixed, i, ho, so, bins, RESID_BLOCK, RESID_LO, RESID_HI, width, total, alpha / 2
            )
            hi = blocked_quantile(
                fixed, i, ho, so, bins, RESID_BLOCK, RESID_LO, RESID_HI, width, total, 1 - alpha / 2
            )
            out[o + F_BOUNDS + 2 * lv] = price * math.exp((z + lo) * scale)
            out[o + F_BOUNDS + 2 * lv + 1] = price * math.exp((z + hi) * scale)
        raw = 1.0 - blocked_cdf(fixed, i, ho, so, bins, RESID_BLOCK, RESID_LO, width, -z)
        po = PUP + h * (1 + 2 * NPBIN + 2)
        binned, base = binned_rate(fixed, i, po, cfg, h, raw), binned_base(fixed, i, po)
        k = least_mean(fixed, i, BRIER_FM + h * NBLEND * FM, NBLEND)
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
def residual_histogram(h, r):
    """The columns of horizon h's residual histogram of regime r (NR: every regime's): its bins'
    header, and its block sums."""
    c = h * (NR + 1) + r
    return RESID + c * (2 + RESIDUAL_BINS), RESID_SUMS + c * NRB


@helper
def residual_column(fixed, i, h, regime):
    """HorizonForecaster._residuals: the columns (`residual_histogram`) of the histogram to use,
    (-1, -1) for none."""
    for r in (regime, NR):
        o, so = residual_histogram(h, r)
        if hist_weight(fixed, i, o) >= MIN_RESIDUALS:
            return o, so
    return -1, -1
