"""Every symbol's models in one place: the compiled core's arrays, a row per symbol.

`ModelBook.apply` runs a batch of ticks (any symbols, in order) through the core (`kernel.run`) in
one call and returns a matrix of every tick's outputs (`layout.OUT_*`); `output` turns one row into the
engine's `Output` when a view needs it. A symbol's state goes in and out in the reference
engine's snapshot format (`SymbolModel.to_state`), so snapshots are the same whichever wrote them.
"""

from __future__ import annotations

import math
import time

import numpy as np

from cryptoviz.models import HORIZONS, HOUR, kernel, layout, rowmap, summary
from cryptoviz.models.engine import ModelConfig, ModelStats, Output, SymbolModel
from cryptoviz.models.forecaster import LEVELS, MIN_RESIDUALS, Forecast
from cryptoviz.models.layout import (
    FC,
    NL,
    NPBIN,
    NQ,
    NR,
    NS,
    OUT_FC,
    OUT_HAS_FC,
    OUT_HAS_MOVES,
    OUT_MOVES,
    OUT_OK,
    OUT_PRED,
    OUT_SCORED,
    OUT_SIGNAL,
    OUT_STATS,
    OUT_WIDTH,
    Q_BOARD,
    QUEUE_FIELDS,
    RESID,
    RESIDUAL_BINS,
    WIDTH,
)
from cryptoviz.models.moves import VOL_HORIZONS
from cryptoviz.models.signals import Signal
from cryptoviz.scoring.board import SCORED, TOLERANCE
from cryptoviz.scoring.summary import ModelScore, ScoreSummary

ACTIONS = {1: "BUY", -1: "SELL", 0: "HOLD"}
_PRED_KEYS = (
    "moving_average",
    "linear_trend",
    "momentum",
    "consensus",
    "persistence",
    "drift",
    "reversal",
    "forecast",
)
_PRED_INDEX = tuple(SCORED.index(k) for k in _PRED_KEYS)


def config_vector(config: ModelConfig) -> np.ndarray:
    """The core's config (`C_*`), with the decays and penalties computed as the reference does."""
    fc = config.forecast
    if len(fc.p_up_edges) != NPBIN - 1:
        raise ValueError(
            f"the compiled core has {NPBIN - 1} P(up) edges; the config gives {len(fc.p_up_edges)}"
        )
    if config.signal_horizon not in HORIZONS:
        raise ValueError(f"signal horizon {config.signal_horizon!r} is none of {list(HORIZONS)}")
    c = np.zeros(layout.C_WIDTH)
    c[layout.C_MA_SPAN : layout.C_W0] = (
        config.ma_window_s,
        config.trend_window_s,
        config.momentum_window_s,
        config.volatility_window_s,
    )
    c[layout.C_W0 : layout.C_THRESHOLD] = config.weights
    c[layout.C_THRESHOLD], c[layout.C_FEE_BPS] = config.threshold, config.fee_bps
    c[layout.C_TOLERANCE] = TOLERANCE  # the scoreboard's default, which SymbolModel uses
    c[layout.C_VOL_HALFLIFE], c[layout.C_VOL_LONG_HALFLIFE] = fc.vol_halflife_h, fc.vol_long_halflife_h
    c[layout.C_VOL_QUICK_HALFLIFE] = fc.vol_quick_halflife_h
    for index, halflife in (
        (layout.C_REGIME_DECAY, fc.regime_halflife),
        (layout.C_RIDGE_DECAY, fc.ridge_halflife),
        (layout.C_PUP_DECAY, fc.p_up_halflife),
        (layout.C_RESID_DECAY, fc.residual_halflife),
        (layout.C_MOVE_DECAY, fc.move_halflife),
        (layout.C_SHRINK_DECAY, fc.shrink_halflife),
    ):
        c[index] = 0.5 ** (1.0 / halflife)
    c[layout.C_ACI_GAMMA] = fc.aci_gamma
    for h, horizon_s in enumerate(HORIZONS.values()):
        c[layout.C_HORIZON + h] = horizon_s
        c[layout.C_PENALTY + h] = fc.ridge_penalty_per_h * math.sqrt(horizon_s / HOUR)
        c[layout.C_PRIOR + h] = fc.p_up_prior_per_h * horizon_s / HOUR
    c[layout.C_VOL_HORIZON : layout.C_VOL_HORIZON + len(VOL_HORIZONS)] = list(VOL_HORIZONS.values())
    c[layout.C_EDGES : layout.C_EDGES + NPBIN - 1] = fc.p_up_edges
    c[layout.C_LEVEL : layout.C_LEVEL + NL] = list(LEVELS.values())
    return c


class BookModel:
    """One symbol of a book as `ml.store` reads a model: its stats after the tick of `row` (its
    latest), its scoreboard's summary and its snapshot, read when the store asks."""

    __slots__ = ("book", "row", "symbol")

    def __init__(self, book: ModelBook, symbol: str, row: np.ndarray | None = None) -> None:
        self.book, self.symbol, self.row = book, symbol, row

    def stats(self) -> ModelStats:
        if self.row is None:
            raise ValueError(f"no tick of {self.symbol} to take the stats of")
        return self.book.stats(self.row)

    def summary(self) -> ScoreSummary:
        return self.book.summary(self.symbol)

    def forecast_scores(self) -> dict[str, ModelScore | None]:
        return self.book.forecast_scores(self.symbol)

    def to_state(self) -> dict:
        return self.book.to_state(self.symbol)

    def learnt(self, horizon: str, regime: int) -> bool:
        return self.book.learnt(self.symbol, horizon, regime)


class ModelBook:
    """The models of every symbol seen, in arrays; symbols get a row on first sight."""

    def __init__(self, config: ModelConfig, rows: int = 16, slots: int = 8) -> None:
        self.config = config
        self.cfg = config_vector(config)
        self.rows: dict[str, int] = {}
        self.fixed = np.zeros((rows, WIDTH))
        self.meta = np.zeros((rows, NQ, 2), dtype=np.int64)
        self.rings = tuple(np.zeros((rows, slots, n)) for n in QUEUE_FIELDS)
        self._fresh = rowmap.encode(SymbolModel(config))
        self._work = np.zeros(layout.WORK)  # the core's scratch (it allocates nothing itself)
        self._summary = np.zeros(layout.SM_WIDTH)  # a summary's numbers, as the core writes them
        self._signal = OUT_SIGNAL + list(HORIZONS).index(config.signal_horizon) * 5

    def __len__(self) -> int:
        return len(self.rows)

    def __contains__(self, symbol: str) -> bool:
        return symbol in self.rows

    def row(self, symbol: str) -> int:
        """The symbol's row, a fresh model's when it is new."""
        i = self.rows.get(symbol)
        if i is None:
            i = len(self.rows)
            if i == self.fixed.shape[0]:
                self._grow_rows()
            self.rows[symbol] = i
            self._store(i, self._fresh)
        return i

    def forget(self) -> None:
        """Drop every symbol (the processor's rebalance): a row is filled afresh when reused."""
        self.rows.clear()

    def apply(self, rows: np.ndarray, ts: np.ndarray, prices: np.ndarray) -> np.ndarray:
        """Run the ticks (row, event time, price) in order; the output matrix, a row per tick."""
        rows = np.ascontiguousarray(rows, dtype=np.int64)  # the types the compiled core takes
        ts = np.ascontiguousarray(ts, dtype=np.float64)
        prices = np.ascontiguousarray(prices, dtype=np.float64)
        out = np.zeros((len(rows), OUT_WIDTH))  # what a tick does not produce stays 0
        done = 0
        while done < len(rows):
            k, full = kernel.run(
                self.fixed,
                self.rings,
                self.meta,
                self.cfg,
                rows[done:],
                ts[done:],
                prices[done:],
                out[done:],
                self._work,
            )
            done += k
            if full >= 0:
                self._grow_queue(full)
        return out

    def load(self, symbol: str, state: dict) -> None:
        """Take a snapshot (`SymbolModel.to_state` format); one this code cannot read raises, and
        leaves the symbol as it was."""
        encoded = rowmap.encode(SymbolModel.from_state(state, self.config))
        self._store(self.row(symbol), encoded)

    def to_state(self, symbol: str) -> dict:
        return self.model(symbol).to_state()

    # --- reading outputs -----------------------------------------------------------------------
    def output(self, row: np.ndarray, t: float, price: float) -> Output | None:
        """One tick's Output, as `SymbolModel.update` returns it (None: the tick was not newer)."""
        if not row[OUT_OK]:
            return None
        v = row.tolist()
        predictions: dict[str, dict[str, float]] = {}
        forecasts: dict[str, Forecast] = {}
        for h_index, h in enumerate(HORIZONS):
            p = OUT_PRED + h_index * NS
            predictions[h] = {k: v[p + j] for k, j in zip(_PRED_KEYS, _PRED_INDEX, strict=True)}
            if v[OUT_HAS_FC + h_index]:
                f = OUT_FC + h_index * FC
                forecasts[h] = Forecast.from_list(v[f : f + FC])
        s = self._signal  # the core decides every horizon's; the output carries the signal horizon's
        signal = Signal(
            ACTIONS[int(v[s])],
            round(v[s + 1], 4),
            round(v[s + 2], 4),
            round(v[s + 3], 4),
            round(v[s + 4], 4),
            self.config.signal_horizon,
        )
        moves = {h: v[OUT_MOVES + j] for j, h in enumerate(VOL_HORIZONS)} if v[OUT_HAS_MOVES] else {}
        return Output(t, price, predictions, signal, int(v[OUT_SCORED]), forecasts, moves)

    @staticmethod
    def stats(row: np.ndarray) -> ModelStats:
        """`SymbolModel.stats` just after the tick whose output row this is."""
        vol = float(row[OUT_STATS + 2])
        return {
            "ticks": int(row[OUT_STATS + 4]),
            "moving_average": float(row[OUT_PRED]),
            "trend_slope_per_h": float(row[OUT_STATS]),
            "momentum_per_h": float(row[OUT_STATS + 1]),
            "volatility_1h_pct": vol * 100 if not math.isnan(vol) else None,
            "window_points": int(row[OUT_STATS + 3]),
        }

    def summary(self, symbol: str) -> ScoreSummary:
        """`Scoreboard.summary` of the symbol, its numbers computed by the core."""
        i = self.rows[symbol]
        kernel.summarize(self.fixed, i, self._summary)
        pending = [int(self.meta[i, Q_BOARD + h, 1]) for h in range(len(HORIZONS))]
        return summary.from_numbers(self._summary, pending, self.config.fee_bps)

    def forecast_scores(self, symbol: str) -> dict[str, ModelScore | None]:
        """`SymbolModel.forecast_scores` from the core's numbers, without building the rest of the
        summary."""
        kernel.summarize(self.fixed, self.rows[symbol], self._summary)
        return summary.forecast_scores(self._summary)

    def learnt(self, symbol: str, horizon: str, regime: int) -> bool:
        """`SymbolModel.learnt` from the arrays: the residual weights against MIN_RESIDUALS."""
        i, h = self.rows[symbol], list(HORIZONS).index(horizon)
        for r in (regime, NR):  # the regime's residuals, or every regime's
            o = RESID + (h * (NR + 1) + r) * (2 + RESIDUAL_BINS)
            g, total = self.fixed[i, o], self.fixed[i, o + 1]
            if g > 0 and total / g >= MIN_RESIDUALS:
                return True
        return False

    def model(self, symbol: str) -> SymbolModel:
        """The symbol's state as the reference engine's objects."""
        return self._decode(self.rows[symbol])

    # --- growing -------------------------------------------------------------------------------
    def _grow_rows(self) -> None:
        n = self.fixed.shape[0] * 2
        self.fixed = np.resize(self.fixed, (n, WIDTH))
        self.meta = np.resize(self.meta, (n, NQ, 2))
        self.rings = tuple(np.resize(r, (n, *r.shape[1:])) for r in self.rings)

    def _grow_queue(self, q: int) -> None:
        old = self.rings[q]
        rows, cap, fields = old.shape
        new = np.zeros((rows, cap * 2, fields))
        for i in range(len(self.rows)):
            head, n = self.meta[i, q]
            order = (head + np.arange(n)) % cap
            new[i, :n] = old[i, order]
            self.meta[i, q, 0] = 0
        self.rings = (*self.rings[:q], new, *self.rings[q + 1 :])

    # --- the reference objects <-> a row ----------------------------------------------------------
    def _store(self, i: int, encoded: tuple[np.ndarray, list[list[list[float]]]]) -> None:
        values, queues = encoded
        self.fixed[i] = values
        for q, items in enumerate(queues):
            while len(items) > self.rings[q].shape[1]:
                self._grow_queue(q)
            ring = self.rings[q]
            self.meta[i, q] = (0, len(items))
            if items:
                ring[i, : len(items)] = items

    def _items(self, i: int, q: int) -> list[list[float]]:
        ring = self.rings[q]
        head, n = self.meta[i, q]
        return ring[i, (head + np.arange(n)) % ring.shape[1]].tolist()

    def _decode(self, i: int) -> SymbolModel:
        return rowmap.decode(self.fixed[i].tolist(), lambda q: self._items(i, q), self.config)


def warm() -> float:
    """Make the core ready now rather than on the first batch (the ahead-of-time module is; numba's
    JIT compiles, or loads its cache); the seconds it took."""
    start = time.perf_counter()
    book = ModelBook(ModelConfig(), rows=1, slots=2)
    book.apply(np.array([book.row("warm")]), np.ones(1), np.ones(1))
    book.summary("warm")
    return time.perf_counter() - start
