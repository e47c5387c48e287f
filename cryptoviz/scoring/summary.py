"""A scoreboard's summary, typed: what `Scoreboard.summary` and `ModelBook.summary` return, the ML
view's `accuracy` in Redis (`contracts.MLView`) and what the backtest reads and saves.

Per horizon: the scores of each scored model and baseline scored at least once (keyed by its name),
then each one's skill against persistence, the headline forecast's intervals and P(up), the signals
as positions, "always up" as a directional baseline, and the predictions expired and pending; and
per horizon of the volatility forecast its score. Values in % are of the price."""

# no `from __future__ import annotations` here: NotRequired is seen at run time only in evaluated
# annotations (for msgspec, and for the assert at the end)
from typing import Literal, NotRequired, TypedDict, get_args

from cryptoviz.models import HORIZONS

Model = Literal["moving_average", "linear_trend", "momentum", "consensus", "forecast"]
Baseline = Literal["persistence", "drift", "reversal"]
Scored = Literal[Model, Baseline]  # (not `Model | Baseline`: mypy types .get with that as object)


class ModelScore(TypedDict):
    """One model's or baseline's predictions scored at a horizon (`board.metrics`)."""

    n: int
    mae: float
    mape: float
    hit_rate: float | None  # None when no prediction had a direction (persistence)
    n_direction: int
    hit_rate_ci: list[float] | None  # the hit rate's 95 % Wilson interval, [low, high]


class Skill(TypedDict):
    """1 - MAPE / persistence's MAPE, over n outcomes, with its Newey-West t statistic."""

    skill: float | None
    t_stat: float | None
    n: int


class Hits(TypedDict):
    """Directional calls (`tallies.HitTally`): how many, the share right, the mean net return."""

    n: int
    hit_rate: float | None
    hit_rate_ci: list[float] | None
    mean_net_return_pct: float | None


class Signals(Hits):
    """The signals as positions, each scored once net of the round-trip fee."""

    fee_bps: float


class RegimeCoverage(TypedDict):
    coverage: float | None
    n: int


class IntervalScore(TypedDict):
    """One interval level (`tallies.IntervalTally`)."""

    coverage: float | None
    n: int
    mean_width_pct: float | None
    interval_score: float | None
    by_regime: dict[str, RegimeCoverage]  # low / mid / high volatility


class ReliabilityBin(TypedDict):
    bin: str  # "0.3-0.4": the P(up) forecasts in that tenth
    n: int
    p_mean: float | None
    observed: float | None  # the share that went up


class ProbabilityScore(TypedDict):
    """P(up) against what happened (`tallies.ProbabilityTally`)."""

    brier: float | None
    brier_base_rate: float | None  # the Brier score of the base rate known at the time
    n: int
    reliability: list[ReliabilityBin]


class MoveScore(TypedDict):
    """The volatility forecast at one horizon (`tallies.MoveTally`)."""

    r2: float | None  # out of sample, against the mean of the moves before
    n: int
    mean_abs_move_pct: float | None


class HorizonScores(TypedDict):
    """Everything scored at one horizon: each name scored at least once, then the rest."""

    moving_average: NotRequired[ModelScore]
    linear_trend: NotRequired[ModelScore]
    momentum: NotRequired[ModelScore]
    consensus: NotRequired[ModelScore]
    forecast: NotRequired[ModelScore]
    persistence: NotRequired[ModelScore]
    drift: NotRequired[ModelScore]
    reversal: NotRequired[ModelScore]
    skill: dict[str, Skill]  # every scored name but persistence
    always_up: Hits
    intervals: dict[str, IntervalScore]  # "80" / "90"
    p_up: ProbabilityScore
    signals: Signals
    expired: int  # predictions whose due time passed in a gap of the data, never scored
    pending: int  # predictions not yet due


ScoreSummary = TypedDict(
    "ScoreSummary",
    {
        "1h": HorizonScores,
        "6h": HorizonScores,
        "volatility": dict[str, MoveScore],  # 1h / 6h / 24h, once a move of that horizon settled
    },
)

# the names and horizons spelled above are the scored ones and HORIZONS
assert HorizonScores.__optional_keys__ == {*get_args(Model), *get_args(Baseline)}
assert ScoreSummary.__required_keys__ == {*HORIZONS, "volatility"}
