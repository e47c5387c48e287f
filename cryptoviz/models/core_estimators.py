"""The compiled core's estimators, each the arithmetic of its reference class on a block of a symbol's
row (`layout`): the fading means (`fading.FadingMean`), the EWMA variances (`fading.EwmaVariance`),
the decayed histograms, the binned rate, the ridge (`estimators`), the HAC mean
(`scoring.tallies.HacMean`) and the time windows (`window.TimeWindow`). Inlined into `core.run`."""

from __future__ import annotations

import math

from cryptoviz.models.core_jit import HOUR, helper
from cryptoviz.models.core_rings import ring_first, ring_pop, ring_push
from cryptoviz.models.layout import (
    C_EDGES,
    C_PRIOR,
    CLIP,
    FM,
    HAC_VALUES,
    NK,
    NPBIN,
    RESCALE_AT,
    VOL_BLEND_W,
    WIN,
)


@helper
def observation_weight(dt):
    """estimators.observation_weight"""
    return min(max(dt, 0.0), HOUR) / HOUR


@helper
def faded(d, w):
    """The decay d over a weight w, d^w: raised once per outcome for every estimator that fades by d
    (exact when w is 1, as at hourly cadence)."""
    return d if w == 1.0 else d**w


@helper
def fm_add(fixed, i, o, dw, x, w, span):
    fixed[i, o] = fixed[i, o] * dw + w
    fixed[i, o + 1] = fixed[i, o + 1] * dw * dw + w * max(w, span)
    fixed[i, o + 2] = fixed[i, o + 2] * dw + w * x
    fixed[i, o + 3] = fixed[i, o + 3] * dw + w * x * x


@helper
def least_mean(fixed, i, o, n):
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
def fm_t_stat(fixed, i, o):
    sum_w, sum_w2, sum_x, sum_xx = fixed[i, o], fixed[i, o + 1], fixed[i, o + 2], fixed[i, o + 3]
    n_eff = sum_w * sum_w / sum_w2 if sum_w2 > 0 else 0.0
    if n_eff < 2:
        return 0.0
    mean = sum_x / sum_w
    var = max(sum_xx / sum_w - mean * mean, 0.0)
    return mean / math.sqrt(var / n_eff) if var > 0 else 0.0


@helper
def ewma_update(fixed, i, o, halflife_h, t, price):
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
def ewma_hourly(fixed, i, o):
    """The hourly volatility; -1.0 for the reference's None (every use reads <= 0 as none, as the
    reference reads None and 0.0 alike)."""
    if fixed[i, o + 1] < 1 - 0.5**0.1:
        return -1.0
    return math.sqrt(fixed[i, o] / fixed[i, o + 1])


@helper
def hist_add(fixed, i, o, bins, lo, width, dw, x, w, so, block):
    """A decayed histogram's add (`estimators.DecayedHistogram`); so: the column of its sums by
    blocks of `block` bins, kept with the bins (rescaled with them, added to with the bin)."""
    g = fixed[i, o] / dw
    if g > RESCALE_AT:
        scale = 1.0 / g
        for j in range(bins):
            fixed[i, o + 2 + j] = fixed[i, o + 2 + j] * scale
        for b in range(bins // block):
            fixed[i, so + b] = fixed[i, so + b] * scale
        fixed[i, o + 1] *= scale
        g = 1.0
    fixed[i, o] = g
    k = min(bins - 1, max(0, int((x - lo) / width)))
    fixed[i, o + 2 + k] += w * g
    fixed[i, so + k // block] += w * g
    fixed[i, o + 1] += w * g


@helper
def hist_weight(fixed, i, o):
    return fixed[i, o + 1] / fixed[i, o]


@helper
def blocked_cdf(fixed, i, o, so, bins, block, lo, width, x):
    """`estimators.DecayedHistogram.cdf` of the histogram at column o with its block sums at column
    so: the blocks below x's bin, then that block's bins (the same sum to rounding, in a few dozen
    additions instead of one per bin below x's)."""
    total = fixed[i, o + 1]
    if total <= 0:
        return 0.5
    pos = (x - lo) / width
    k = min(bins - 1, max(0, int(pos)))
    kb = k // block
    below = 0.0
    for b in range(kb):
        below += fixed[i, so + b]
    for j in range(kb * block, k):
        below += fixed[i, o + 2 + j]
    below += fixed[i, o + 2 + k] * min(1.0, max(0.0, pos - k))
    return below / total


@helper
def blocked_total(fixed, i, so, n):
    """The sum of n block sums from column so: every bin of the histogram."""
    total = 0.0
    for b in range(n):
        total += fixed[i, so + b]
    return total


@helper
def blocked_quantile(fixed, i, o, so, bins, block, lo, hi, width, total, p):
    """`estimators.DecayedHistogram.quantiles` of the histogram at column o with its block sums at
    column so and `total` their sum: the first bin whose running sum reaches p * total (bisect_left
    over the running sums), found block by block, then interpolated inside the bin."""
    target = p * total
    below = 0.0
    b, n = 0, bins // block
    while b < n and below + fixed[i, so + b] < target:
        below += fixed[i, so + b]
        b += 1
    if b >= n:
        return hi
    k, last = b * block, b * block + block - 1
    while k < last and below + fixed[i, o + 2 + k] < target:
        below += fixed[i, o + 2 + k]
        k += 1
    inside = fixed[i, o + 2 + k]
    if below + inside < target:  # the block's bins sum, to rounding, below its block sum: its end
        return lo + (k + 1) * width
    return lo + (k + ((target - below) / inside if inside > 0 else 0.0)) * width


@helper
def binned_bin(cfg, score):
    k = 0  # bisect_right over the edges
    for j in range(NPBIN - 1):
        if cfg[C_EDGES + j] <= score:
            k = j + 1
    return k


@helper
def binned_base(fixed, i, o):
    total_n = fixed[i, o + 1 + 2 * NPBIN]
    return fixed[i, o + 2 + 2 * NPBIN] / total_n if total_n > 0 else 0.5


@helper
def binned_rate(fixed, i, o, cfg, h, score):
    k = binned_bin(cfg, score)
    prior_w = cfg[C_PRIOR + h] * fixed[i, o]
    return (fixed[i, o + 1 + NPBIN + k] + prior_w * binned_base(fixed, i, o)) / (
        fixed[i, o + 1 + k] + prior_w
    )


@helper
def binned_add(fixed, i, o, cfg, score, event, dw, w):
    g = fixed[i, o] / dw
    if g > RESCALE_AT:
        s = 1.0 / g
        for j in range(2 * NPBIN):
            fixed[i, o + 1 + j] = fixed[i, o + 1 + j] * s
        g = 1.0
    fixed[i, o] = g
    k = binned_bin(cfg, score)
    fixed[i, o + 1 + k] += w * g
    fixed[i, o + 1 + 2 * NPBIN] += w
    if event:
        fixed[i, o + 1 + NPBIN + k] += w * g
        fixed[i, o + 2 + 2 * NPBIN] += w


@helper
def ridge_predict(fixed, i, o, penalty, x, a, beta):
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
def ridge_add(fixed, i, o, dw, x, y, w):
    for r in range(NK):
        xi = w * x[r]
        for c in range(NK):
            fixed[i, o + r * NK + c] = fixed[i, o + r * NK + c] * dw + xi * x[c]
        fixed[i, o + NK * NK + r] = fixed[i, o + NK * NK + r] * dw + xi * y


@helper
def hac_add(fixed, i, o, lags, x, due):
    """HacMean.add: the outcome into its hour's bucket, the bucket before it closed into the HAC."""
    v = o + HAC_VALUES
    hour = math.floor(due / HOUR)
    if fixed[i, v + 4] and hour != fixed[i, v + 2]:
        hac_push(fixed, i, o, lags, fixed[i, v + 3] / fixed[i, v + 4])
        fixed[i, v + 3] = 0.0
        fixed[i, v + 4] = 0.0
    fixed[i, v + 2] = hour
    fixed[i, v + 3] += x
    fixed[i, v + 4] += 1
    fixed[i, v] += 1
    fixed[i, v + 1] += x


@helper
def hac_push(fixed, i, o, lags, x):
    n = int(fixed[i, o])
    recent = o + 4 + (lags + 1) + lags  # the ring of the last `lags` values: value j at slot j % lags
    r = (n - 1) % lags  # value n - k's slot, for k = 1, 2, ...: one step back each lag, no division
    for k in range(1, min(n, lags) + 1):
        fixed[i, o + 4 + k] += x * fixed[i, recent + r]
        r = r - 1 if r else lags - 1
    fixed[i, o] = n + 1
    fixed[i, o + 1] += x
    fixed[i, o + 2] += x * x
    if fixed[i, o + 3] < lags:
        fixed[i, o + 4 + (lags + 1) + int(fixed[i, o + 3])] = x
        fixed[i, o + 3] += 1
    fixed[i, recent + n % lags] = x


@helper
def clip(x):
    return max(-CLIP, min(CLIP, x))


@helper
def blend(quick, short, long, b):
    """moves._blend with VOL_BLENDS[b]"""
    w = 3 * b
    return math.sqrt(
        VOL_BLEND_W[w] * quick * quick + VOL_BLEND_W[w + 1] * short * short + VOL_BLEND_W[w + 2] * long * long
    )


@helper
def window_add(fixed, rings, meta, i, w, q, span, t, p):
    o = WIN + 8 * w
    ring = rings[q]
    if fixed[i, o + 1] == 0:
        fixed[i, o] = t
        fixed[i, o + 1] = 1.0
    anchor = fixed[i, o]
    x = (t - anchor) / 3600.0
    s = ring_push(ring, meta, i, q)
    ring[i, s, 0] = t
    ring[i, s, 1] = p
    fixed[i, o + 2] += 1
    fixed[i, o + 3] += x
    fixed[i, o + 4] += p
    fixed[i, o + 5] += x * x
    fixed[i, o + 6] += x * p
    cutoff = t - span
    while ring[i, ring_first(ring, meta, i, q), 0] < cutoff:
        s = ring_pop(ring, meta, i, q)
        t0, p0 = ring[i, s, 0], ring[i, s, 1]
        x0 = (t0 - anchor) / 3600.0
        fixed[i, o + 2] -= 1
        fixed[i, o + 3] -= x0
        fixed[i, o + 4] -= p0
        fixed[i, o + 5] -= x0 * x0
        fixed[i, o + 6] -= x0 * p0
        fixed[i, o + 7] += 1
    if fixed[i, o + 7] >= 4096:  # TimeWindow.REBUILD
        window_rebuild(fixed, ring, meta, i, o, q)


@helper
def window_rebuild(fixed, ring, meta, i, o, q):
    fixed[i, o + 7] = 0.0
    anchor = ring[i, ring_first(ring, meta, i, q), 0]
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
def window_fit(fixed, i, o):
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
