"""The numbers of a symbol's scoreboard summary, compiled: `HorizonScore.summary` and
`MoveTally.summary` (`cryptoviz.scoring`) read straight off the symbol's row of the core's state.

Each number is the reference's, with the same operations in the same order
(tests/unit/models/test_book.py compares whole summaries); `cryptoviz.models.summary` names them.
Building the reference's tallies from the row and asking them took 220-340 us a symbol, most of it
the Newey-West t statistics, for every symbol every batch changes; the whole summary now takes
55-88 us, most of it naming.
"""

from __future__ import annotations

import math

import numpy as np

from cryptoviz.models.core_jit import helper, njit
from cryptoviz.models.layout import (
    ALWAYS_UP,
    FIRED,
    HAC,
    HAC_VALUES,
    HORIZON_S,
    INTERVALS,
    LAGS,
    MOVE_TALLY,
    NL,
    NR,
    NS,
    OUTCOMES,
    P_PERSISTENCE,
    PROB,
    RELIABILITY_BINS,
    SH,
    SKILL,
    SM_ALWAYS_UP,
    SM_EXPIRED,
    SM_FIRED,
    SM_INTERVALS,
    SM_MODELS,
    SM_MOVES,
    SM_PROB,
    SM_SKILL,
    SUMS,
    TALLY,
    VH,
    H,
)

NAN = np.nan
Z = 1.96  # stats.wilson's


@helper
def _ratio(a, n):
    return a / n if n else NAN


@helper
def _wilson(hits, n, out, o):
    """stats.wilson into out[o], out[o + 1]."""
    if n <= 0:
        out[o] = NAN
        out[o + 1] = NAN
        return
    p = hits / n
    denom = 1 + Z * Z / n
    centre = (p + Z * Z / (2 * n)) / denom
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / denom
    out[o] = max(0.0, centre - half)
    out[o + 1] = min(1.0, centre + half)


@helper
def _t_stat(fixed, i, o, lags):
    """HacMean.t_stat of the HAC mean at column o (core._hac_add's layout)."""
    n = int(fixed[i, o])
    if n <= lags + 1:
        return NAN
    total, squares = fixed[i, o + 1], fixed[i, o + 2]
    first, recent = o + 4 + (lags + 1), o + 4 + (lags + 1) + lags
    m = total / n
    g0 = squares / n - m * m
    weighted = 0.0  # newey_west_t's sum, its terms in the same order
    first_k = last_k = 0.0
    for k in range(1, lags + 1):
        first_k += fixed[i, first + k - 1]
        last_k += fixed[i, recent + (n - k) % lags]
        tail, head = total - first_k, total - last_k
        gamma = (fixed[i, o + 4 + k] - m * (tail + head) + (n - k) * m * m) / n
        weighted += (1 - k / (lags + 1)) * gamma
    var = g0 + 2 * weighted
    if var <= 0:
        return NAN
    return m / math.sqrt(var / n)


@helper
def _hits(fixed, i, o, out, s, share):
    """HitTally.summary(share): n, hit rate, Wilson interval, mean net return."""
    n, hits, net = fixed[i, o], fixed[i, o + 1], fixed[i, o + 2]
    out[s] = n
    out[s + 1] = _ratio(hits, n)
    _wilson(hits * share, n * share, out, s + 2)
    out[s + 4] = _ratio(net, n)


@helper
def _independent(fixed, i, h):
    """Scoreboard.independent: the share of horizon h's outcomes independent of each other."""
    o = SKILL + h * (NS - 1) * HAC  # the first model's skill: its hour buckets, the open one too
    outcomes = fixed[i, o + HAC_VALUES]
    hours = fixed[i, o] + (1.0 if fixed[i, o + HAC_VALUES + 4] else 0.0)
    return min(1.0, hours * 3600.0 / HORIZON_S[h] / outcomes) if outcomes > 0 else 1.0


@njit
def summarize(fixed, i, out):
    """Every number of row i's scoreboard summary into `out` (layout.SM_*; NaN where None)."""
    for h in range(H):
        b = h * SH
        lags = LAGS[h]
        share = _independent(fixed, i, h)
        mape_p = NAN
        for j in range(NS):
            o, s = SUMS + (h * NS + j) * 5, b + SM_MODELS + j * 7
            n, n_dir, hits = fixed[i, o], fixed[i, o + 3], fixed[i, o + 4]
            out[s] = n
            out[s + 1] = _ratio(fixed[i, o + 1], n)
            out[s + 2] = fixed[i, o + 2] / n * 100 if n else NAN
            out[s + 3] = _ratio(hits, n_dir)
            out[s + 4] = n_dir
            _wilson(hits * share, n_dir * share, out, s + 5)
            if j == P_PERSISTENCE:
                mape_p = out[s + 2]
        for j in range(NS - 1):
            o, s = SKILL + (h * (NS - 1) + j) * HAC, b + SM_SKILL + j * 3
            n = fixed[i, o + HAC_VALUES]  # outcomes (the t statistic's are hour buckets)
            mean = fixed[i, o + HAC_VALUES + 1] / n if n else NAN
            out[s] = mean / mape_p if n and not math.isnan(mape_p) and mape_p != 0 else NAN
            out[s + 1] = _t_stat(fixed, i, o, lags)
            out[s + 2] = n
        _hits(fixed, i, ALWAYS_UP + h * 3, out, b + SM_ALWAYS_UP, share)
        for lv in range(NL):
            o, s = INTERVALS + (h * NL + lv) * TALLY, b + SM_INTERVALS + lv * (4 + 2 * NR)
            n = fixed[i, o]
            out[s] = _ratio(fixed[i, o + 1], n)
            out[s + 1] = n
            out[s + 2] = _ratio(fixed[i, o + 2], n)
            out[s + 3] = _ratio(fixed[i, o + 3], n)
            for r in range(NR):
                k, covered = fixed[i, o + 4 + 2 * r], fixed[i, o + 5 + 2 * r]
                out[s + 4 + 2 * r] = _ratio(covered, k)
                out[s + 5 + 2 * r] = k
        o, s = PROB + h * (3 + 3 * RELIABILITY_BINS), b + SM_PROB
        n = fixed[i, o]
        out[s] = _ratio(fixed[i, o + 1], n)
        out[s + 1] = _ratio(fixed[i, o + 2], n)
        out[s + 2] = n
        for bin_ in range(RELIABILITY_BINS):
            k = fixed[i, o + 3 + 3 * bin_]
            out[s + 3 + 3 * bin_] = k
            out[s + 4 + 3 * bin_] = _ratio(fixed[i, o + 4 + 3 * bin_], k)
            out[s + 5 + 3 * bin_] = _ratio(fixed[i, o + 5 + 3 * bin_], k)
        _hits(fixed, i, FIRED + h * 3, out, b + SM_FIRED, 1.0)  # positions do not overlap
        out[b + SM_EXPIRED] = fixed[i, OUTCOMES + h * 3 + 2]
    for v in range(VH):
        o, s = MOVE_TALLY + v * 6, SM_MOVES + v * 4
        sse, sse_constant, seen = fixed[i, o + 2], fixed[i, o + 3], fixed[i, o + 5]
        out[s] = fixed[i, o]
        out[s + 1] = 1 - sse / sse_constant if sse_constant > 0 else NAN
        out[s + 2] = fixed[i, o + 1]
        out[s + 3] = fixed[i, o + 4] / seen if seen else NAN
