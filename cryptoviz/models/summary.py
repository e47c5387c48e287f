"""A scoreboard summary (`scoring.board.summarize`'s format) from the numbers the core computes
(`core_summary.summarize`, laid out by `layout.SM_*`): names on numbers, None for NaN."""

from __future__ import annotations

import math
from typing import Any, TypeAlias, cast

from cryptoviz.models import HORIZONS
from cryptoviz.models.forecaster import LEVELS, REGIMES
from cryptoviz.models.layout import (
    NL,
    NR,
    NS,
    SH,
    SM_ALWAYS_UP,
    SM_EXPIRED,
    SM_FIRED,
    SM_INTERVALS,
    SM_MODELS,
    SM_MOVES,
    SM_PROB,
    SM_SKILL,
)
from cryptoviz.models.moves import VOL_HORIZONS
from cryptoviz.scoring.board import SCORED
from cryptoviz.scoring.summary import (
    Hits,
    HorizonScores,
    IntervalScore,
    ModelScore,
    MoveScore,
    ReliabilityBin,
    ScoreSummary,
    Skill,
)
from cryptoviz.scoring.tallies import RELIABILITY_BINS

_SKILLED = tuple(m for m in SCORED if m != "persistence")
_BINS = tuple(f"{i / RELIABILITY_BINS:.1f}-{(i + 1) / RELIABILITY_BINS:.1f}" for i in range(RELIABILITY_BINS))


# below, v holds the numbers with None for NaN (counts are never NaN, so int() takes them as they are)
Numbers: TypeAlias = list[Any]


def _pair(v: Numbers, s: int) -> list[float] | None:
    return None if v[s] is None else [v[s], v[s + 1]]


def _hits(v: Numbers, s: int) -> Hits:
    return {
        "n": int(v[s]),
        "hit_rate": v[s + 1],
        "hit_rate_ci": _pair(v, s + 2),
        "mean_net_return_pct": v[s + 4],
    }


def _horizon(v: Numbers, b: int, pending: int, fee_bps: float) -> HorizonScores:
    scores: dict[str, ModelScore] = {}
    for j, name in enumerate(SCORED):
        s = b + SM_MODELS + j * 7
        if v[s]:
            scores[name] = {
                "n": int(v[s]),
                "mae": v[s + 1],
                "mape": v[s + 2],
                "hit_rate": v[s + 3],
                "n_direction": int(v[s + 4]),
                "hit_rate_ci": _pair(v, s + 5),
            }
    out = cast(HorizonScores, scores)  # keyed by the names scored so far, then the rest
    skill: dict[str, Skill] = {}
    for j, name in enumerate(_SKILLED):
        s = b + SM_SKILL + j * 3
        skill[name] = {"skill": v[s], "t_stat": v[s + 1], "n": int(v[s + 2])}
    out["skill"] = skill
    out["always_up"] = _hits(v, b + SM_ALWAYS_UP)
    intervals: dict[str, IntervalScore] = {}
    for lv, level in enumerate(LEVELS):
        s = b + SM_INTERVALS + lv * (4 + 2 * NR)
        intervals[level] = {
            "coverage": v[s],
            "n": int(v[s + 1]),
            "mean_width_pct": v[s + 2],
            "interval_score": v[s + 3],
            "by_regime": {
                regime: {"coverage": v[s + 4 + 2 * r], "n": int(v[s + 5 + 2 * r])}
                for r, regime in enumerate(REGIMES)
            },
        }
    out["intervals"] = intervals
    s = b + SM_PROB
    reliability: list[ReliabilityBin] = []
    for k, label in enumerate(_BINS):
        o = s + 3 + 3 * k
        reliability.append({"bin": label, "n": int(v[o]), "p_mean": v[o + 1], "observed": v[o + 2]})
    out["p_up"] = {
        "brier": v[s],
        "brier_base_rate": v[s + 1],
        "n": int(v[s + 2]),
        "reliability": reliability,
    }
    out["signals"] = {**_hits(v, b + SM_FIRED), "fee_bps": fee_bps}
    out["expired"] = int(v[b + SM_EXPIRED])
    out["pending"] = pending
    return out


def from_numbers(numbers: list[float], pending: list[int], fee_bps: float) -> ScoreSummary:
    """The summary of the numbers `core_summary.summarize` gave, with each horizon's count of
    predictions waiting (`pending`, in HORIZONS order)."""
    v: Numbers = [None if math.isnan(x) else x for x in numbers]
    # keyed by HORIZONS, then the volatility
    out = cast(ScoreSummary, {h: _horizon(v, k * SH, pending[k], fee_bps) for k, h in enumerate(HORIZONS)})
    moves: dict[str, MoveScore] = {}
    for k, h in enumerate(VOL_HORIZONS):
        s = SM_MOVES + k * 4
        if v[s]:  # a tally exists once a move of that horizon has settled
            moves[h] = {
                "r2": v[s + 1],
                "n": int(v[s + 2]),
                "mean_abs_move_pct": v[s + 3],
            }
    out["volatility"] = moves
    return out


assert len(SCORED) == NS and len(LEVELS) == NL and len(_SKILLED) == NS - 1
