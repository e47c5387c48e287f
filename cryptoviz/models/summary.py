"""A scoreboard summary (`scoring.board.summarize`'s format) from the numbers the core computes
(`core_summary.summarize`, laid out by `layout.SM_*`): names on numbers, None for NaN."""

from __future__ import annotations

from typing import Any, TypeAlias, cast

import numpy as np

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

# (name, offset in a horizon's numbers) of each block, worked out once
_MODELS = tuple((name, SM_MODELS + j * 7) for j, name in enumerate(SCORED))
_SKILLS = tuple((name, SM_SKILL + j * 3) for j, name in enumerate(_SKILLED))
_LEVELS = tuple((level, SM_INTERVALS + lv * (4 + 2 * NR)) for lv, level in enumerate(LEVELS))
_REGIMES = tuple((regime, 4 + 2 * r) for r, regime in enumerate(REGIMES))  # within a level's block
_RELIABILITY = tuple((label, SM_PROB + 3 + 3 * k) for k, label in enumerate(_BINS))
_MOVES = tuple((h, SM_MOVES + k * 4) for k, h in enumerate(VOL_HORIZONS))
_FORECAST = dict(_MODELS)["forecast"]


def _hits(v: Numbers, s: int) -> Hits:
    low = v[s + 2]
    return {
        "n": int(v[s]),
        "hit_rate": v[s + 1],
        "hit_rate_ci": None if low is None else [low, v[s + 3]],
        "mean_net_return_pct": v[s + 4],
    }


def _score(v: Numbers, s: int) -> ModelScore:
    low = v[s + 5]
    return {
        "n": int(v[s]),
        "mae": v[s + 1],
        "mape": v[s + 2],
        "hit_rate": v[s + 3],
        "n_direction": int(v[s + 4]),
        "hit_rate_ci": None if low is None else [low, v[s + 6]],
    }


def _models(v: Numbers, b: int) -> dict[str, ModelScore]:
    return {name: _score(v, b + o) for name, o in _MODELS if v[b + o]}  # the names scored so far


def forecast_scores(numbers: np.ndarray) -> dict[str, ModelScore | None]:
    """Of the numbers `core_summary.summarize` gave, only the headline forecast's scores at each
    horizon (`from_numbers(...)[h].get("forecast")`: None before one was scored)."""
    out: dict[str, ModelScore | None] = {}
    for k, h in enumerate(HORIZONS):
        s = k * SH + _FORECAST
        v: Numbers = [None if x != x else x for x in numbers[s : s + 7].tolist()]  # NaN -> None
        out[h] = _score(v, 0) if v[0] else None
    return out


def _intervals(v: Numbers, b: int) -> dict[str, IntervalScore]:
    intervals: dict[str, IntervalScore] = {}
    for level, o in _LEVELS:
        s = b + o
        intervals[level] = {
            "coverage": v[s],
            "n": int(v[s + 1]),
            "mean_width_pct": v[s + 2],
            "interval_score": v[s + 3],
            "by_regime": {regime: {"coverage": v[s + r], "n": int(v[s + r + 1])} for regime, r in _REGIMES},
        }
    return intervals


def _horizon(v: Numbers, b: int, pending: int, fee_bps: float) -> HorizonScores:
    out = cast(HorizonScores, _models(v, b))  # keyed by the names scored so far, then the rest
    skill: dict[str, Skill] = {
        name: {"skill": v[b + o], "t_stat": v[b + o + 1], "n": int(v[b + o + 2])} for name, o in _SKILLS
    }
    out["skill"] = skill
    out["always_up"] = _hits(v, b + SM_ALWAYS_UP)
    out["intervals"] = _intervals(v, b)
    s = b + SM_PROB
    reliability: list[ReliabilityBin] = [
        {"bin": label, "n": int(v[b + o]), "p_mean": v[b + o + 1], "observed": v[b + o + 2]}
        for label, o in _RELIABILITY
    ]
    out["p_up"] = {"brier": v[s], "brier_base_rate": v[s + 1], "n": int(v[s + 2]), "reliability": reliability}
    out["signals"] = {**_hits(v, b + SM_FIRED), "fee_bps": fee_bps}
    out["expired"] = int(v[b + SM_EXPIRED])
    out["pending"] = pending
    return out


def from_numbers(numbers: np.ndarray, pending: list[int], fee_bps: float) -> ScoreSummary:
    """The summary of the numbers `core_summary.summarize` gave, with each horizon's count of
    predictions waiting (`pending`, in HORIZONS order)."""
    v: Numbers = numbers.tolist()
    for i in np.flatnonzero(np.isnan(numbers)).tolist():  # NaN -> None, found in one pass
        v[i] = None
    # keyed by HORIZONS, then the volatility
    out = cast(ScoreSummary, {h: _horizon(v, k * SH, pending[k], fee_bps) for k, h in enumerate(HORIZONS)})
    # a tally exists once a move of that horizon has settled
    moves: dict[str, MoveScore] = {
        h: {"r2": v[s + 1], "n": int(v[s + 2]), "mean_abs_move_pct": v[s + 3]} for h, s in _MOVES if v[s]
    }
    out["volatility"] = moves
    return out


assert len(SCORED) == NS and len(LEVELS) == NL and len(_SKILLED) == NS - 1
