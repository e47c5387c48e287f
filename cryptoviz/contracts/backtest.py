"""backtest:summary (and the data folder's backtest.json): what `cryptoviz backtest` last measured.

Per symbol and horizon: every model's and baseline's scores (`BacktestMetric`: n 0 and None for a
name never scored), then the scoreboard's own skill, intervals, P(up), signals and "always up"
(`scoring.summary`, the same values as the ML view's accuracy); per symbol the volatility forecast's
scores and the stretch of history read. Built by `backtest.runner.to_json` and
`backtest.report.summarize`; read by the dashboard (`dashboard.data.backtest_table`) and rendered as
docs/models/'s tables (`backtest.markdown`)."""

from __future__ import annotations

from typing import TypedDict, get_args

from cryptoviz.models import HORIZONS
from cryptoviz.scoring.summary import (
    Baseline,
    Hits,
    IntervalScore,
    Model,
    MoveScore,
    ProbabilityScore,
    Signals,
    Skill,
)


class BacktestMetric(TypedDict):
    """`scoring.summary.ModelScore` without n_direction."""

    n: int
    mae: float | None
    mape: float | None
    hit_rate: float | None
    hit_rate_ci: list[float] | None


class BacktestHorizon(TypedDict):
    """One horizon of a symbol: every name's scores, then the scoreboard's own (`HorizonScores`)."""

    persistence: BacktestMetric
    drift: BacktestMetric
    reversal: BacktestMetric
    moving_average: BacktestMetric
    linear_trend: BacktestMetric
    momentum: BacktestMetric
    consensus: BacktestMetric
    forecast: BacktestMetric
    skill: dict[str, Skill]  # every scored name but persistence
    intervals: dict[str, IntervalScore]  # "80" / "90"
    p_up: ProbabilityScore
    signals: Signals
    always_up: Hits
    expired: int


BacktestSymbol = TypedDict(
    "BacktestSymbol",
    {
        "1h": BacktestHorizon,
        "6h": BacktestHorizon,
        "volatility": dict[str, MoveScore],  # 1h / 6h / 24h
        "hold_return": float,  # first to last price (across any gaps), a fraction
        "segments": int,  # stretches without a gap longer than backtest.runner.GAP_S
        "rows": int,
        "from": str,  # the first and last row's event time, ISO
        "to": str,
    },
)


class BacktestSummary(TypedDict, total=False):
    """backtest:summary: what `cryptoviz backtest` last measured (see backtest.runner.to_json)."""

    symbols: dict[str, BacktestSymbol]
    summary: str  # the verdict: how the forecast and the consensus did against persistence
    rows: int  # rows read
    seconds: float  # time taken
    generated_ts: float


# every scored name and every horizon has its key above
assert {*get_args(Baseline), *get_args(Model)} <= BacktestHorizon.__required_keys__
assert set(HORIZONS) <= BacktestSymbol.__required_keys__
