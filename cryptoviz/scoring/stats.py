"""Plain statistics the scoreboard reports: Wilson intervals and a Newey-West t statistic."""

from __future__ import annotations

import math
from collections.abc import Sequence


def independent_share(outcomes: int, hours: float, horizon_s: float) -> float:
    """The share of `outcomes` that are independent of each other, at most 1: outcomes whose
    horizons overlap share most of their move (sixty minute outcomes of an hour's move, six hourly
    ones of a 6 h move), so the `hours` they fell in count once per horizon's length."""
    if outcomes <= 0:
        return 1.0
    return min(1.0, hours * 3600.0 / horizon_s / outcomes)


def wilson(hits: float, n: float, z: float = 1.96) -> tuple[float, float] | None:
    """The 95 % Wilson score interval of a proportion (None for n = 0); `hits` and `n` may be
    effective counts (`independent_share` of the raw ones)."""
    if n <= 0:
        return None
    p = hits / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def newey_west_t(mean: float, autocovariances: Sequence[float], n: int) -> float | None:
    """mean / its HAC standard error: var = (g0 + 2 sum_k (1 - k/(L+1)) g_k) / n with Bartlett
    weights, g_k the lag-k autocovariances (g0 first, L = len - 1). None when it is not positive."""
    lags = len(autocovariances) - 1
    var = autocovariances[0] + 2 * sum((1 - k / (lags + 1)) * autocovariances[k] for k in range(1, lags + 1))
    if n <= 1 or var <= 0:
        return None
    return mean / math.sqrt(var / n)
