"""Every symbol's models in one place: the compiled core's arrays, a row per symbol.

`ModelBook.apply` runs a batch of ticks (any symbols, in order) through the core (`kernel.run`) in
one call and returns a matrix of every tick's outputs (`layout.OUT_*`); `output` turns one row into the
engine's `Output` when a view needs it. A symbol's state goes in and out in the reference
engine's snapshot format (`SymbolModel.to_state`), so snapshots are the same whichever wrote them.
"""

from __future__ import annotations

import math
import time
from collections import deque

import numpy as np

from cryptoviz.models import HORIZONS, HOUR, kernel, layout, summary
from cryptoviz.models.engine import ModelConfig, Output, SymbolModel
from cryptoviz.models.forecaster import LEVELS, MIN_RESIDUALS, Forecast
from cryptoviz.models.layout import (
    ALPHA,
    ALWAYS_UP,
    BRIER_FM,
    EWMA,
    FC,
    FIRED,
    FIRST_P,
    FIRST_T,
    FM,
    HAC,
    HAC_VALUES,
    HAS_FIRST,
    INTERVALS,
    LAST_DUE,
    LAST_T,
    MOVE_ERROR,
    MOVE_LAST_DUE,
    MOVE_RATIO,
    MOVE_TALLY,
    NBLEND,
    NK,
    NL,
    NPBIN,
    NQ,
    NR,
    NS,
    NSHRINK,
    NVB,
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
    OUTCOMES,
    POSITION,
    PROB,
    PUP,
    Q_BOARD,
    Q_MA,
    Q_MOMENTUM,
    Q_MOVES,
    Q_RECENT,
    Q_TREND,
    Q_VOL,
    QUEUE_FIELDS,
    RESID,
    RESIDUAL_BINS,
    RIDGE,
    SCORED_TOTAL,
    SHRINK_FM,
    SIGMA_BINS,
    SIGMAS,
    SKILL,
    SUMS,
    TALLY,
    TICKS,
    TREND_LAST,
    VOL,
    WIDTH,
    WIN,
)
from cryptoviz.models.moves import VOL_HORIZONS
from cryptoviz.models.signals import Signal
from cryptoviz.scoring.board import SCORED, TOLERANCE, HorizonScore, hac_lags
from cryptoviz.scoring.tallies import RELIABILITY_BINS, MoveTally

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

    def stats(self) -> dict:
        if self.row is None:
            raise ValueError(f"no tick of {self.symbol} to take the stats of")
        return self.book.stats(self.row)

    def summary(self) -> dict:
        return self.book.summary(self.symbol)

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
        self._fresh = self._encode(SymbolModel(config))
        self._work = np.zeros(layout.WORK)  # the core's scratch (it allocates nothing itself)
        self._summary = np.zeros(layout.SM_WIDTH)  # a summary's numbers, as the core writes them

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
        encoded = self._encode(SymbolModel.from_state(state, self.config))
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
        signals: dict[str, Signal] = {}
        for h_index, h in enumerate(HORIZONS):
            p = OUT_PRED + h_index * NS
            predictions[h] = {k: v[p + j] for k, j in zip(_PRED_KEYS, _PRED_INDEX, strict=True)}
            if v[OUT_HAS_FC + h_index]:
                f = OUT_FC + h_index * FC
                forecasts[h] = Forecast.from_list(v[f : f + FC])
            s = OUT_SIGNAL + h_index * 5
            signals[h] = Signal(
                ACTIONS[int(v[s])],
                round(v[s + 1], 4),
                round(v[s + 2], 4),
                round(v[s + 3], 4),
                round(v[s + 4], 4),
                h,
            )
        moves = {h: v[OUT_MOVES + j] for j, h in enumerate(VOL_HORIZONS)} if v[OUT_HAS_MOVES] else {}
        return Output(
            t, price, predictions, signals[self.config.signal_horizon], int(v[OUT_SCORED]), forecasts, moves
        )

    @staticmethod
    def stats(row: np.ndarray) -> dict:
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

    def summary(self, symbol: str) -> dict:
        """`Scoreboard.summary` of the symbol, its numbers computed by the core."""
        i = self.rows[symbol]
        kernel.summarize(self.fixed, i, self._summary)
        pending = [int(self.meta[i, Q_BOARD + h, 1]) for h in range(len(HORIZONS))]
        return summary.from_numbers(self._summary.tolist(), pending, self.config.fee_bps)

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

    def _encode(self, m: SymbolModel) -> tuple[np.ndarray, list[list[list[float]]]]:
        """A SymbolModel as a state row and its queues' items (oldest first)."""
        fixed = np.zeros(WIDTH)
        fixed[LAST_T], fixed[TICKS] = m.last_t, m.ticks
        if m.first is not None:
            fixed[HAS_FIRST], fixed[FIRST_T], fixed[FIRST_P] = 1.0, *m.first
        fixed[TREND_LAST] = m.trend.last
        for w, win in enumerate((m.ma.window, m.trend.window)):
            o = WIN + 8 * w
            if win.anchor is not None:
                fixed[o], fixed[o + 1] = win.anchor, 1.0
            fixed[o + 2 : o + 8] = win.n, win.st, win.sp, win.stt, win.stp, win._evictions
        fixed[VOL] = m.vol.sum_sq
        if m.vol.last is not None:
            fixed[VOL + 1 : VOL + 4] = 1.0, *m.vol.last
        fc = m.forecaster
        for o, ewma in ((EWMA, fc.vol), (EWMA + 5, fc.moves.vol_long), (EWMA + 10, fc.moves.vol_quick)):
            fixed[o], fixed[o + 1] = ewma.var, ewma.weight
            if ewma.last is not None:
                fixed[o + 2 : o + 5] = 1.0, *ewma.last
        fixed[SIGMAS], fixed[SIGMAS + 1] = fc.sigmas.g, fc.sigmas.total
        fixed[SIGMAS + 2 : SIGMAS + 2 + SIGMA_BINS] = fc.sigmas.counts
        for h, hf in enumerate(fc.horizons.values()):
            fixed[LAST_DUE + h] = hf.last_due
            o = RIDGE + h * (NK * NK + NK)
            fixed[o : o + NK * NK] = [v for row in hf.ridge.xx for v in row]
            fixed[o + NK * NK : o + NK * NK + NK] = hf.ridge.xy
            o = PUP + h * (1 + 2 * NPBIN + 2)
            fixed[o] = hf.p_up.g
            fixed[o + 1 : o + 1 + NPBIN] = hf.p_up.n
            fixed[o + 1 + NPBIN : o + 1 + 2 * NPBIN] = hf.p_up.hits
            fixed[o + 1 + 2 * NPBIN], fixed[o + 2 + 2 * NPBIN] = hf.p_up.total_n, hf.p_up.total_hits
            for k, mean in enumerate(hf.shrink_gains):
                o = SHRINK_FM + (h * NSHRINK + k) * FM
                fixed[o : o + FM] = mean.sum_w, mean.sum_w2, mean.sum_x, mean.sum_xx
            for k, mean in enumerate(hf.p_up_briers):
                o = BRIER_FM + (h * NBLEND + k) * FM
                fixed[o : o + FM] = mean.sum_w, mean.sum_w2, mean.sum_x, mean.sum_xx
            for r, hist in enumerate(hf.residuals):
                o = RESID + (h * (NR + 1) + r) * (2 + RESIDUAL_BINS)
                fixed[o], fixed[o + 1] = hist.g, hist.total
                fixed[o + 2 : o + 2 + RESIDUAL_BINS] = hist.counts
            for r, levels in enumerate(hf.levels):
                for lv, level in enumerate(levels.values()):
                    fixed[ALPHA + (h * NR + r) * NL + lv] = level.alpha
        for v, vh in enumerate(VOL_HORIZONS):
            fixed[MOVE_LAST_DUE + v] = fc.moves.last_due[vh]
            for b in range(NVB):
                for base, means in ((MOVE_RATIO, fc.moves.ratio[vh]), (MOVE_ERROR, fc.moves.error[vh])):
                    o = base + (v * NVB + b) * FM
                    mean = means[b]
                    fixed[o : o + FM] = mean.sum_w, mean.sum_w2, mean.sum_x, mean.sum_xx
        board = m.board
        for h, (name, horizon_s) in enumerate(HORIZONS.items()):
            score = board.scores[name]
            for j, model_name in enumerate(SCORED):
                o = SUMS + (h * NS + j) * 5
                fixed[o : o + 5] = score.sums[model_name]
            lags = hac_lags(horizon_s)
            for j, hac in enumerate(score.skill.values()):
                o = SKILL + (h * (NS - 1) + j) * HAC
                fixed[o : o + 4] = hac.n, hac.total, hac.squares, len(hac.first)
                fixed[o + 4 : o + 5 + lags] = hac.cross
                fixed[o + 5 + lags : o + 5 + lags + len(hac.first)] = hac.first
                start = hac.n - len(hac.recent)
                for k, x in enumerate(hac.recent):
                    fixed[o + 5 + 2 * lags + (start + k) % lags] = x
                fixed[o + HAC_VALUES : o + HAC] = hac.values, hac.values_total, *hac.bucket
            for lv, tally in enumerate(score.intervals.values()):
                o = INTERVALS + (h * NL + lv) * TALLY
                fixed[o : o + 4] = tally.n, tally.covered, tally.width, tally.score
                fixed[o + 4 : o + TALLY] = [v for pair in tally.by_regime for v in pair]
            o = PROB + h * (3 + 3 * RELIABILITY_BINS)
            fixed[o : o + 3] = score.p_up.n, score.p_up.brier, score.p_up.brier_base
            fixed[o + 3 : o + 3 + 3 * RELIABILITY_BINS] = [v for b in score.p_up.bins for v in b]
            fixed[ALWAYS_UP + h * 3 : ALWAYS_UP + h * 3 + 3] = score.always_up.to_state()
            fixed[FIRED + h * 3 : FIRED + h * 3 + 3] = score.fired.to_state()
            fixed[POSITION + h * 3 : POSITION + h * 3 + 3] = score.position
            fixed[OUTCOMES + h * 3 : OUTCOMES + h * 3 + 3] = score.ups, score.outcomes, score.expired
        for v, vh in enumerate(VOL_HORIZONS):
            moves = board.moves.get(vh)
            if moves is not None:
                fixed[MOVE_TALLY + v * 6 : MOVE_TALLY + v * 6 + 6] = 1.0, *moves.to_state()
        fixed[SCORED_TOTAL] = board.scored
        queues: list[list[list[float]]] = [[] for _ in range(NQ)]
        queues[Q_MA] = [list(p) for p in m.ma.window.points]
        queues[Q_TREND] = [list(p) for p in m.trend.window.points]
        queues[Q_MOMENTUM] = [list(p) for p in m.momentum.points]
        queues[Q_VOL] = [list(p) for p in m.vol.points]
        queues[Q_RECENT] = [list(p) for p in fc.recent]
        for h, name in enumerate(HORIZONS):
            queues[Q_BOARD + h] = [
                [e[0], e[1], *e[2], e[3], 1.0 if e[4] else 0.0, *(e[4] or [0.0] * FC)]
                for e in board.pending[name]
            ]
        for v, vh in enumerate(VOL_HORIZONS):
            queues[Q_MOVES + v] = [list(e) for e in fc.moves.pending[vh]]
        return fixed, queues

    def _items(self, i: int, q: int) -> list[list[float]]:
        ring = self.rings[q]
        head, n = self.meta[i, q]
        return ring[i, (head + np.arange(n)) % ring.shape[1]].tolist()

    def _score(self, i: int, h: int, horizon_s: float) -> HorizonScore:
        """The horizon's HorizonScore, through its state (one read of the row's scoring columns)."""
        v = self.fixed[i, SUMS:SCORED_TOTAL].tolist()

        def at(offset: int, n: int) -> list[float]:
            return v[offset - SUMS : offset - SUMS + n]

        sums = {}
        for j, name in enumerate(SCORED):
            n, abs_err, pct_err, n_dir, hits = at(SUMS + (h * NS + j) * 5, 5)
            sums[name] = [int(n), abs_err, pct_err, int(n_dir), int(hits)]
        lags = hac_lags(horizon_s)
        skill = {}
        for j, name in enumerate(m for m in SCORED if m != "persistence"):
            o = SKILL + (h * (NS - 1) + j) * HAC
            n, total, squares, first_n = at(o, 4)
            ring = at(o + 5 + 2 * lags, lags)
            start = int(n) % lags  # the ring's oldest of the last `lags` values, once it is full
            recent = ring[start:] + ring[:start] if n >= lags else ring[: int(n)]
            skill[name] = [
                lags,
                int(n),
                total,
                squares,
                at(o + 4, lags + 1),
                at(o + 5 + lags, int(first_n)),
                recent,
                at(o + HAC_VALUES, HAC - HAC_VALUES),
            ]
        intervals = {}
        for lv, (name, alpha) in enumerate(LEVELS.items()):
            o = INTERVALS + (h * NL + lv) * TALLY
            n, covered, width, score = at(o, 4)
            reg = at(o + 4, 2 * NR)
            by_regime = [[int(reg[2 * r]), int(reg[2 * r + 1])] for r in range(NR)]
            intervals[name] = [alpha, int(n), int(covered), width, score, by_regime]
        o = PROB + h * (3 + 3 * RELIABILITY_BINS)
        n, brier, brier_base = at(o, 3)
        bins = at(o + 3, 3 * RELIABILITY_BINS)
        p_up = [
            int(n),
            brier,
            brier_base,
            [[int(bins[3 * b]), bins[3 * b + 1], int(bins[3 * b + 2])] for b in range(RELIABILITY_BINS)],
        ]
        always_n, always_hits, always_net = at(ALWAYS_UP + h * 3, 3)
        fired_n, fired_hits, fired_net = at(FIRED + h * 3, 3)
        ups, outcomes, expired = at(OUTCOMES + h * 3, 3)
        return HorizonScore.from_state(
            {
                "horizon_s": horizon_s,
                "sums": sums,
                "skill": skill,
                "intervals": intervals,
                "p_up": p_up,
                "always_up": [int(always_n), int(always_hits), always_net],
                "fired": [int(fired_n), int(fired_hits), fired_net],
                "position": at(POSITION + h * 3, 3),
                "ups": [int(ups), int(outcomes)],
                "expired": int(expired),
            }
        )

    def _move_tallies(self, i: int) -> dict[str, MoveTally]:
        tallies: dict[str, MoveTally] = {}
        for v, h in enumerate(VOL_HORIZONS):
            present, n, sse, sse_constant, realised, seen = self.fixed[
                i, MOVE_TALLY + v * 6 : MOVE_TALLY + v * 6 + 6
            ].tolist()
            if present:
                t = MoveTally()
                t.n, t.sse, t.sse_constant, t.realised, t.seen = (
                    int(n),
                    sse,
                    sse_constant,
                    realised,
                    int(seen),
                )
                tallies[h] = t
        return tallies

    def _decode(self, i: int) -> SymbolModel:
        fixed = self.fixed
        v = fixed[i].tolist()
        m = SymbolModel(self.config)
        m.last_t, m.ticks = v[LAST_T], int(v[TICKS])
        m.first = (v[FIRST_T], v[FIRST_P]) if v[HAS_FIRST] else None
        m.trend.last = v[TREND_LAST]
        for w, (win, q) in enumerate(((m.ma.window, Q_MA), (m.trend.window, Q_TREND))):
            o = WIN + 8 * w
            win.anchor = v[o] if v[o + 1] else None
            win.n = int(v[o + 2])
            win.st, win.sp, win.stt, win.stp = v[o + 3 : o + 7]
            win._evictions = int(v[o + 7])
            win.points = deque((t, p) for t, p in self._items(i, q))
        m.momentum.points = deque((t, p) for t, p in self._items(i, Q_MOMENTUM))
        m.vol.points = deque((t, p) for t, p in self._items(i, Q_VOL))
        m.vol.sum_sq = v[VOL]
        m.vol.last = (v[VOL + 2], v[VOL + 3]) if v[VOL + 1] else None
        fc = m.forecaster
        for o, ewma in ((EWMA, fc.vol), (EWMA + 5, fc.moves.vol_long), (EWMA + 10, fc.moves.vol_quick)):
            ewma.var, ewma.weight = v[o], v[o + 1]
            ewma.last = (v[o + 3], v[o + 4]) if v[o + 2] else None
        fc.sigmas.g, fc.sigmas.total = v[SIGMAS], v[SIGMAS + 1]
        fc.sigmas.counts = v[SIGMAS + 2 : SIGMAS + 2 + SIGMA_BINS]
        fc.recent = deque((t, p) for t, p in self._items(i, Q_RECENT))
        for h, hf in enumerate(fc.horizons.values()):
            hf.last_due = v[LAST_DUE + h]
            o = RIDGE + h * (NK * NK + NK)
            hf.ridge.xx = [v[o + r * NK : o + (r + 1) * NK] for r in range(NK)]
            hf.ridge.xy = v[o + NK * NK : o + NK * NK + NK]
            o = PUP + h * (1 + 2 * NPBIN + 2)
            hf.p_up.g = v[o]
            hf.p_up.n = v[o + 1 : o + 1 + NPBIN]
            hf.p_up.hits = v[o + 1 + NPBIN : o + 1 + 2 * NPBIN]
            hf.p_up.total_n, hf.p_up.total_hits = v[o + 1 + 2 * NPBIN], v[o + 2 + 2 * NPBIN]
            for k, mean in enumerate(hf.shrink_gains):
                o = SHRINK_FM + (h * NSHRINK + k) * FM
                mean.sum_w, mean.sum_w2, mean.sum_x, mean.sum_xx = v[o : o + FM]
            for k, mean in enumerate(hf.p_up_briers):
                o = BRIER_FM + (h * NBLEND + k) * FM
                mean.sum_w, mean.sum_w2, mean.sum_x, mean.sum_xx = v[o : o + FM]
            for r, hist in enumerate(hf.residuals):
                o = RESID + (h * (NR + 1) + r) * (2 + RESIDUAL_BINS)
                hist.g, hist.total = v[o], v[o + 1]
                hist.counts = v[o + 2 : o + 2 + RESIDUAL_BINS]
            for r, levels in enumerate(hf.levels):
                for lv, level in enumerate(levels.values()):
                    level.alpha = v[ALPHA + (h * NR + r) * NL + lv]
        for j, vh in enumerate(VOL_HORIZONS):
            fc.moves.last_due[vh] = v[MOVE_LAST_DUE + j]
            for b in range(NVB):
                for base, means in ((MOVE_RATIO, fc.moves.ratio[vh]), (MOVE_ERROR, fc.moves.error[vh])):
                    o = base + (j * NVB + b) * FM
                    mean = means[b]
                    mean.sum_w, mean.sum_w2, mean.sum_x, mean.sum_xx = v[o : o + FM]
            fc.moves.pending[vh] = deque(
                (e[0], e[1], e[2], e[3], e[4], e[5]) for e in self._items(i, Q_MOVES + j)
            )
        board = m.board
        for h, (name, horizon_s) in enumerate(HORIZONS.items()):
            board.scores[name] = self._score(i, h, horizon_s)
            pending: deque[list] = deque()
            for e in self._items(i, Q_BOARD + h):
                fc_list = e[2 + NS + 2 :] if e[2 + NS + 1] else None
                if fc_list is not None:
                    fc_list[layout.F_REGIME] = int(fc_list[layout.F_REGIME])
                pending.append([e[0], e[1], e[2 : 2 + NS], e[2 + NS], fc_list])
            board.pending[name] = pending
        board.moves = self._move_tallies(i)
        board.scored = int(v[SCORED_TOTAL])
        return m


def warm() -> float:
    """Make the core ready now rather than on the first batch (the ahead-of-time module is; numba's
    JIT compiles, or loads its cache); the seconds it took."""
    start = time.perf_counter()
    book = ModelBook(ModelConfig(), rows=1, slots=2)
    book.apply(np.array([book.row("warm")]), np.ones(1), np.ones(1))
    book.summary("warm")
    return time.perf_counter() - start
