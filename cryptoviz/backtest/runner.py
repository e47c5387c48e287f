"""Walk-forward backtest on real history with the live models and the live scoring code.

Each symbol's rows are fed in event-time order to the model book, the compiled core the ML
processor runs, so every prediction sees only the past and is scored exactly as live (the core
matches the reference `SymbolModel` to 1e-9: tests/unit/models/test_book.py). Nothing here
predicts or scores on its own; this module only feeds history and summarises.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import cast

import numpy as np

from cryptoviz.contracts import HORIZON_NAMES, Horizon
from cryptoviz.contracts.backtest import BacktestHorizon, BacktestMetric, BacktestSummary, BacktestSymbol
from cryptoviz.models.book import ModelBook
from cryptoviz.models.engine import ModelConfig
from cryptoviz.models.layout import OUT_OK
from cryptoviz.scoring import BASELINES, MODELS
from cryptoviz.scoring.summary import HorizonScores, Model, ModelScore, ScoreSummary


@dataclass
class SymbolResult:
    symbol: str
    rows: int
    first_ts: datetime
    last_ts: datetime
    summary: ScoreSummary  # the scoreboard's, as the ML view's accuracy
    hold_return: float  # first to last price (across any gaps)
    segments: int  # stretches without a gap longer than GAP_S
    trace: list[Trace] = field(default_factory=list)


GAP_S = 6 * 3600  # a longer gap splits the series: nothing is scored or held across it
CHUNK = 10_000  # rows per call of the core (the progress bar moves as often)


@dataclass(frozen=True, slots=True)
class Trace:
    """One row of a --plot trace: the price, the seed's consensus and the headline forecast 1 h
    ahead with its 80 % and 90 % intervals (None before there is a volatility)."""

    t: float
    price: float
    consensus: float
    forecast: float
    interval_80: tuple[float, float] | None
    interval_90: tuple[float, float] | None


def run_symbol(
    symbol: str,
    series: Iterable[tuple[float, float]],
    config: ModelConfig,
    keep_trace: bool = False,
    on_rows: Callable[[int], None] | None = None,
) -> SymbolResult:
    """The symbol's rows through the model book (the processor's compiled core), CHUNK at a time."""
    book = ModelBook(config)
    row = book.row(symbol)
    first = last = None
    rows = 0
    segments = 0
    trace: list[Trace] = []
    points = list(series)
    for start in range(0, len(points), CHUNK):
        chunk = points[start : start + CHUNK]
        ts = np.array([t for t, _ in chunk])
        prices = np.array([p for _, p in chunk])
        out = book.apply(np.full(len(chunk), row, dtype=np.int64), ts, prices)
        for k, (t, price) in enumerate(chunk):
            if not out[k, OUT_OK]:
                continue
            rows += 1
            if last is None or t - last[0] > GAP_S:
                segments += 1
            first = first or (t, price)
            last = (t, price)
            if keep_trace:
                result = book.output(out[k], t, price)
                assert result is not None
                fc = result.forecasts.get("1h")
                trace.append(
                    Trace(
                        t,
                        price,
                        result.predictions["1h"]["consensus"],
                        result.predictions["1h"]["forecast"],
                        fc.intervals["80"] if fc else None,
                        fc.intervals["90"] if fc else None,
                    )
                )
        if on_rows is not None:
            on_rows(len(chunk))
    if first is None or last is None:
        raise ValueError(f"no rows for {symbol}")
    return SymbolResult(
        symbol,
        rows,
        datetime.fromtimestamp(first[0], UTC),
        datetime.fromtimestamp(last[0], UTC),
        book.summary(symbol),
        last[1] / first[1] - 1,
        segments,
        trace,
    )


def to_json(results: list[SymbolResult]) -> BacktestSummary:
    """The --json object: symbols -> horizon -> every model and baseline {n, mae, mape, hit_rate,
    hit_rate_ci}, skill, intervals, p_up, signals, always_up; and per symbol the volatility forecast."""
    symbols: dict[str, BacktestSymbol] = {}
    for r in results:
        # keyed by the horizons, then the rest
        per = cast(BacktestSymbol, {h: _horizon(r.summary[h]) for h in HORIZON_NAMES})
        per["volatility"] = r.summary["volatility"]
        per["hold_return"] = r.hold_return
        per["segments"] = r.segments
        per["rows"] = r.rows
        per["from"] = r.first_ts.isoformat()
        per["to"] = r.last_ts.isoformat()
        symbols[r.symbol] = per
    return {"symbols": symbols}


def _horizon(s: HorizonScores) -> BacktestHorizon:
    # keyed by every model and baseline name, then the rest
    horizon = cast(BacktestHorizon, {m: _metric(s.get(m)) for m in (*BASELINES, *MODELS)})
    horizon["skill"] = s["skill"]
    horizon["intervals"] = s["intervals"]
    horizon["p_up"] = s["p_up"]
    horizon["signals"] = s["signals"]
    horizon["always_up"] = s["always_up"]
    horizon["expired"] = s["expired"]
    return horizon


def _metric(m: ModelScore | None) -> BacktestMetric:
    if m is None:
        return {"n": 0, "mae": None, "mape": None, "hit_rate": None, "hit_rate_ci": None}
    return {
        "n": m["n"],
        "mae": m["mae"],
        "mape": m["mape"],
        "hit_rate": m["hit_rate"],
        "hit_rate_ci": m["hit_rate_ci"],
    }


_VERDICT: tuple[Model, ...] = ("forecast", "consensus")


def verdict(results: list[SymbolResult], horizon: Horizon = "1h") -> str:
    """One line: how the headline forecast and the seed's consensus did against persistence."""
    parts = []
    for model in _VERDICT:
        wins = sum(1 for r in results if _at_or_below_persistence(r.summary[horizon], model))
        parts.append(
            f"{model} at or below persistence's MAPE ({horizon}) on {wins} of {len(results)} symbols"
        )
    return "; ".join(parts)


def _at_or_below_persistence(scores: HorizonScores, model: Model) -> bool:
    m = scores.get(model)
    return m is not None and m["mape"] <= scores["persistence"]["mape"]
