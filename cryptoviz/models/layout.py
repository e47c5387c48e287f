"""Where each number of a symbol's model state lives in the compiled core's arrays.

The core (`cryptoviz.models.core`) keeps every symbol's fixed-size state in one row of a float64
matrix (struct of arrays: row = symbol, column = one number of the state) and its queues in ring
buffers, one 3-D array per queue (symbol, slot, field). This module only counts: it names each
block of columns and how wide it is, so the core, the book that owns the arrays and the state
conversion read the same offsets. Module-level ints, so numba takes them as compile-time constants.
"""

from __future__ import annotations

import hashlib

from cryptoviz.models import HORIZONS
from cryptoviz.models.estimators import RESCALE_AT
from cryptoviz.models.fading import EwmaVariance, FadingMean
from cryptoviz.models.forecaster import (
    CLIP,
    FEATURES,
    LEVELS,
    MIN_RESIDUALS,
    NORMAL_Z,
    P_BLENDS,
    REGIMES,
    SHRINK_T,
    SHRINKS,
    ForecastConfig,
)
from cryptoviz.models.moves import MAX_RATIO, VOL_BLENDS, VOL_HORIZONS
from cryptoviz.models.window import TimeWindow
from cryptoviz.scoring.board import SCORED, hac_lags
from cryptoviz.scoring.tallies import (
    RELIABILITY_BINS,
    HacMean,
    HitTally,
    IntervalTally,
    MoveTally,
    ProbabilityTally,
)

# the reference's constants the core reads (re-exported: the core's cache key covers them)
NORMAL_ZS = tuple(NORMAL_Z[name] for name in LEVELS)
_CONSTANTS = (CLIP, MIN_RESIDUALS, SHRINK_T, SHRINKS, P_BLENDS, RESCALE_AT, MAX_RATIO, VOL_BLENDS)

H = len(HORIZONS)  # prediction horizons (1h, 6h)
VH = len(VOL_HORIZONS)  # expected-move horizons (1h, 6h, 24h)
NS = len(SCORED)  # scored models and baselines
NK = len(FEATURES)
NL = len(LEVELS)
NR = len(REGIMES)
NSHRINK = len(SHRINKS)
NBLEND = len(P_BLENDS)
NVB = len(VOL_BLENDS)
VOL_BLEND_W = tuple(w for blend in VOL_BLENDS for w in blend)  # flat: numba indexes it at run time
NPBIN = len(ForecastConfig().p_up_edges) + 1
SIGMA_BINS = 240
RESIDUAL_BINS = 400
# the core keeps each histogram's bins summed by blocks as well, so a quantile or a CDF reads the
# block sums and the bins of one block, not every bin before it
SIGMA_BLOCK = 16
NSB = SIGMA_BINS // SIGMA_BLOCK
RESID_BLOCK = 20
NRB = RESIDUAL_BINS // RESID_BLOCK
assert NSB * SIGMA_BLOCK == SIGMA_BINS and NRB * RESID_BLOCK == RESIDUAL_BINS
# the core's scratch memory, which its caller owns: the features (NK), the ridge's augmented matrix
# (NK x NK + 1) and solution (NK)
WORK = NK + NK * (NK + 1) + NK
LAGS = tuple(hac_lags(s) for s in HORIZONS.values())
HORIZON_S = tuple(HORIZONS.values())  # each horizon's seconds (the summary's independent outcomes)
LMAX = max(LAGS)
FC = (
    2 + 2 * NL + 5 + NK
)  # Forecast.to_list(): point, (low, high) per level, p_up, p_raw, regime, sigma, features, z_point, z_ridge
# a pending prediction: due, base, predictions, base rate, has forecast, forecast
ENTRY = 1 + 1 + NS + 1 + 1 + FC
# a pending expected move: due, base, sigma sqrt(h), sigma_long sqrt(h), expected %, sigma_quick sqrt(h)
MOVE_ENTRY = 6
FM = FadingMean.WIDTH  # a fading mean: sum_w, sum_w2, sum_x, sum_xx
# a HAC mean over hour buckets: n, total, squares, first count, cross[0..L], first[L], recent[L] (a
# ring: its oldest at n % L), then the outcomes' count and total and the open bucket (hour, sum, count)
HAC = HacMean.block_width(LMAX)
HAC_VALUES = HAC - 5
TALLY = IntervalTally.WIDTH  # an interval tally: n, covered, width, score, [n, covered] per regime

_width = 0


def _block(n: int) -> int:
    global _width
    start = _width
    _width += n
    return start


# the engine
LAST_T = _block(1)
TICKS = _block(1)
HAS_FIRST = _block(1)
FIRST_T = _block(1)
FIRST_P = _block(1)
TREND_LAST = _block(1)
# a time window (moving average 0, linear trend 1): anchor, has anchor, n, st, sp, stt, stp, evictions
WIN = _block(2 * TimeWindow.WIDTH)
TREND_WIN = WIN + TimeWindow.WIDTH
# the stats' volatility: sum of squares, has last, last t, last price
VOL = _block(4)
# the EWMA variances (fast 0, long 1, quick 2): var, weight, has last, last t, last price
EWMA = _block(3 * EwmaVariance.WIDTH)
SIGMA_SUMS = _block(NSB)  # the sigma history's block sums
# per horizon: the forecaster
LAST_DUE = _block(H)  # the due time of the last outcome learnt from (-inf: none)
RIDGE = _block(H * (NK * NK + NK))
PUP = _block(H * (1 + 2 * NPBIN + 2))  # g, n[bins], hits[bins], total_n, total_hits
SHRINK_FM = _block(H * NSHRINK * FM)
BRIER_FM = _block(H * NBLEND * FM)
RESID_SUMS = _block(H * (NR + 1) * NRB)  # each residual histogram's block sums, in RESID's order
# the histograms, from SIGMAS to ALPHA: a tick reads their block sums and a few of their blocks, so
# their bins are left out of what the core prefetches
SIGMAS = _block(2 + SIGMA_BINS)  # g, total, counts
RESID = _block(H * (NR + 1) * (2 + RESIDUAL_BINS))  # per regime, then pooled: g, total, counts
ALPHA = _block(H * NR * NL)
# the move forecaster's fading means: per horizon, per blend
MOVE_RATIO = _block(VH * NVB * FM)
MOVE_ERROR = _block(VH * NVB * FM)
MOVE_LAST_DUE = _block(VH)
# per horizon: the scoreboard
SUMS = _block(H * NS * 5)  # n, sum |err|, sum |err| / price, n with a direction, hits
SKILL = _block(H * (NS - 1) * HAC)  # every scored name but persistence, in SCORED order
INTERVALS = _block(H * NL * TALLY)
PROB = _block(H * ProbabilityTally.WIDTH)  # n, brier, brier of the base rate, [n, sum p, ups] per bin
ALWAYS_UP = _block(H * HitTally.WIDTH)  # n, hits, net
FIRED = _block(H * HitTally.WIDTH)  # positions closed: n, hits, net
POSITION = _block(H * 3)  # the open position: direction (0: none), entry price, exit due
OUTCOMES = _block(H * 3)  # ups, outcomes, expired
MOVE_TALLY = _block(VH * MoveTally.WIDTH)  # present, n, sse, sse of the constant, realised, seen
SCORED_TOTAL = _block(1)
WIDTH = _width

# the queues, each a ring buffer (symbol, slot, field)
Q_MA, Q_TREND, Q_MOMENTUM, Q_VOL, Q_RECENT = range(5)
Q_BOARD = 5  # + horizon index
Q_MOVES = Q_BOARD + H  # + move horizon index
NQ = Q_MOVES + VH
QUEUE_FIELDS = (2, 2, 2, 2, 2, *([ENTRY] * H), *([MOVE_ENTRY] * VH))

# a tick's outputs, per tick: the columns of the output matrix
OUT_OK = 0  # 0: not newer than the symbol's last tick, nothing else written
OUT_SCORED = 1
OUT_PRED = 2  # H x NS predictions in SCORED order
OUT_HAS_FC = OUT_PRED + H * NS  # H flags
OUT_FC = OUT_HAS_FC + H  # H x FC, Forecast.to_list() order
OUT_SIGNAL = OUT_FC + H * FC  # H x (direction, p_up, confidence, move %, agreement)
OUT_HAS_MOVES = OUT_SIGNAL + H * 5
OUT_MOVES = OUT_HAS_MOVES + 1  # VH expected moves, % of price
OUT_STATS = OUT_MOVES + VH  # trend slope per h, momentum per h, volatility (nan: none), window points, ticks
OUT_WIDTH = OUT_STATS + 5


# a scoreboard's summary as the core computes it (`core_summary`), a vector with NaN for None:
# per horizon a block of SH numbers, then the expected moves' tallies
SM_MODELS = 0  # NS x (n, mae, mape, hit rate, n with a direction, Wilson low, Wilson high)
SM_SKILL = SM_MODELS + NS * 7  # (NS - 1) x (skill, t statistic, n): SCORED without persistence
SM_ALWAYS_UP = SM_SKILL + (NS - 1) * 3  # n, hit rate, Wilson low, Wilson high, mean net return
SM_INTERVALS = SM_ALWAYS_UP + 5  # NL x (coverage, n, mean width, interval score, NR x (coverage, n))
SM_PROB = SM_INTERVALS + NL * (4 + 2 * NR)  # brier, brier of the base rate, n, bins x (n, p mean, observed)
SM_FIRED = SM_PROB + 3 + 3 * RELIABILITY_BINS  # as SM_ALWAYS_UP
SM_EXPIRED = SM_FIRED + 5
SH = SM_EXPIRED + 1
SM_MOVES = H * SH  # VH x (present, r2, n, mean absolute move)
SM_WIDTH = SM_MOVES + VH * 4

# the config vector's entries (`book.config_vector` fills it)
C_MA_SPAN, C_TREND_SPAN, C_MOM_SPAN, C_VOL_SPAN, C_W0, C_W1, C_W2, C_THRESHOLD, C_FEE_BPS = range(9)
C_TOLERANCE, C_VOL_HALFLIFE, C_VOL_LONG_HALFLIFE, C_REGIME_DECAY, C_RIDGE_DECAY, C_PUP_DECAY = range(9, 15)
C_RESID_DECAY, C_ACI_GAMMA, C_MOVE_DECAY, C_SHRINK_DECAY, C_VOL_QUICK_HALFLIFE = range(15, 20)
C_HORIZON = 20  # + h: the horizon in seconds
C_PENALTY = C_HORIZON + H  # + h
C_PRIOR = C_PENALTY + H  # + h
C_VOL_HORIZON = C_PRIOR + H  # + move horizon
C_EDGES = C_VOL_HORIZON + VH  # the P(up) bins' edges
C_LEVEL = C_EDGES + NPBIN - 1  # + level: its nominal miscoverage
C_WIDTH = C_LEVEL + NL

ACI_FLOOR = 0.002  # AdaptiveLevel's floor
SIGMA_LO, SIGMA_HI = -12.0, 0.0
SIGMA_WIDTH = (SIGMA_HI - SIGMA_LO) / SIGMA_BINS
RESID_LO, RESID_HI = -CLIP - 2, CLIP + 2
# a forecast's fields (Forecast.to_list order)
F_POINT, F_BOUNDS = 0, 1
F_PUP = 1 + 2 * NL
F_PRAW, F_REGIME, F_SIGMA, F_FEATURES = F_PUP + 1, F_PUP + 2, F_PUP + 3, F_PUP + 4
F_ZPOINT = F_FEATURES + NK
F_ZRIDGE = F_ZPOINT + 1
# a pending prediction's fields
E_DUE, E_BASE, E_PRED = 0, 1, 2
E_BASE_RATE = E_PRED + NS
E_HAS_FC, E_FC = E_BASE_RATE + 1, E_BASE_RATE + 2
P_FORECAST, P_PERSISTENCE, P_DRIFT, P_REVERSAL = 4, 5, 6, 7  # indices in SCORED
assert E_FC + FC == ENTRY


def fingerprint() -> str:
    """A hash of every number above: numba's cache knows when core.py changes, not when what it
    imports does, so the core keeps its compiled code under this key."""
    names = (k for k, v in globals().items() if k.isupper() and isinstance(v, int | float | tuple))
    values = sorted((k, globals()[k]) for k in names)
    extra = (tuple(HORIZONS.items()), SCORED, tuple(LEVELS.items()), tuple(VOL_HORIZONS.items()))
    return hashlib.sha256(repr((values, extra)).encode()).hexdigest()[:16]
