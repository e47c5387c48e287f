"""The reference engine's objects <-> a symbol's row of the compiled core and its queues' items.

A snapshot goes into the core through `encode` and comes out through `decode`, so the core reads
and writes the reference's snapshot format (`SymbolModel.to_state`). Each estimator and tally
writes and reads its own block (`to_block`, `load_block` / `from_block`); this module only says
where each block is (`layout`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence

import numpy as np

from cryptoviz.models import HORIZONS, layout
from cryptoviz.models.engine import ModelConfig, SymbolModel
from cryptoviz.models.forecaster import LEVELS, Forecaster
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
    HAS_FIRST,
    INTERVALS,
    LAST_DUE,
    LAST_T,
    LMAX,
    MOVE_ERROR,
    MOVE_LAST_DUE,
    MOVE_RATIO,
    MOVE_TALLY,
    NBLEND,
    NL,
    NQ,
    NR,
    NS,
    NSHRINK,
    NVB,
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
    RESID,
    RESIDUAL_BINS,
    RIDGE,
    SCORED_TOTAL,
    SHRINK_FM,
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
from cryptoviz.models.window import TimeWindow
from cryptoviz.scoring.board import SCORED, HorizonScore, Scoreboard, hac_lags
from cryptoviz.scoring.tallies import HacMean, HitTally, IntervalTally, MoveTally, ProbabilityTally

Items = list[list[list[float]]]  # per queue, its items oldest first
NK_SQ = layout.NK * layout.NK


def _resid(h: int, r: int) -> int:
    return RESID + (h * (NR + 1) + r) * (2 + RESIDUAL_BINS)


def _block_sums(row: np.ndarray) -> None:
    """Each histogram's block sums (the core's own index, no estimator's) from its bins."""
    columns = [(SIGMAS, layout.SIGMA_BINS, layout.SIGMA_BLOCK, layout.SIGMA_SUMS)] + [
        (_resid(h, r), RESIDUAL_BINS, layout.RESID_BLOCK, layout.RESID_SUMS + (h * (NR + 1) + r) * layout.NRB)
        for h in range(layout.H)
        for r in range(NR + 1)
    ]
    for o, bins, block, so in columns:
        row[so : so + bins // block] = row[o + 2 : o + 2 + bins].reshape(-1, block).sum(axis=1)


def _forecaster_blocks(fc: Forecaster) -> list:
    """(column, estimator) of every forecaster estimator with a block (the EWMAs, the sigma history,
    per horizon the ridge, the P(up) map, the fading means and the residuals, the moves' means)."""
    blocks: list = [(EWMA, fc.vol), (EWMA + 5, fc.moves.vol_long), (EWMA + 10, fc.moves.vol_quick)]
    blocks.append((SIGMAS, fc.sigmas))
    for h, hf in enumerate(fc.horizons.values()):
        blocks.append((RIDGE + h * (NK_SQ + layout.NK), hf.ridge))
        blocks.append((PUP + h * (1 + 2 * layout.NPBIN + 2), hf.p_up))
        blocks += [(SHRINK_FM + (h * NSHRINK + k) * FM, m) for k, m in enumerate(hf.shrink_gains)]
        blocks += [(BRIER_FM + (h * NBLEND + k) * FM, m) for k, m in enumerate(hf.p_up_briers)]
        blocks += [(_resid(h, r), hist) for r, hist in enumerate(hf.residuals)]
    for v, vh in enumerate(VOL_HORIZONS):
        blocks += [(MOVE_RATIO + (v * NVB + b) * FM, m) for b, m in enumerate(fc.moves.ratio[vh])]
        blocks += [(MOVE_ERROR + (v * NVB + b) * FM, m) for b, m in enumerate(fc.moves.error[vh])]
    return blocks


def encode(m: SymbolModel) -> tuple[np.ndarray, Items]:
    """A SymbolModel as a state row and its queues' items (oldest first)."""
    row = np.zeros(WIDTH)
    row[LAST_T], row[TICKS] = m.last_t, m.ticks
    if m.first is not None:
        row[HAS_FIRST], row[FIRST_T], row[FIRST_P] = 1.0, *m.first
    row[TREND_LAST] = m.trend.last
    m.ma.window.to_block(row, WIN)
    m.trend.window.to_block(row, WIN + TimeWindow.WIDTH)
    row[VOL] = m.vol.sum_sq
    if m.vol.last is not None:
        row[VOL + 1 : VOL + 4] = 1.0, *m.vol.last
    fc = m.forecaster
    for o, estimator in _forecaster_blocks(fc):
        estimator.to_block(row, o)
    _block_sums(row)
    for h, hf in enumerate(fc.horizons.values()):
        row[LAST_DUE + h] = hf.last_due
        for r, levels in enumerate(hf.levels):
            o = ALPHA + (h * NR + r) * NL
            row[o : o + NL] = [level.alpha for level in levels.values()]
    for v, vh in enumerate(VOL_HORIZONS):
        row[MOVE_LAST_DUE + v] = fc.moves.last_due[vh]
    _board_to_row(m.board, row)
    return row, _queues(m)


def _board_to_row(board: Scoreboard, row: np.ndarray) -> None:
    for h, name in enumerate(HORIZONS):
        score = board.scores[name]
        for j, model_name in enumerate(SCORED):
            row[SUMS + (h * NS + j) * 5 : SUMS + (h * NS + j + 1) * 5] = score.sums[model_name]
        for j, hac in enumerate(score.skill.values()):
            hac.to_block(row, SKILL + (h * (NS - 1) + j) * HAC, LMAX)
        for lv, tally in enumerate(score.intervals.values()):
            tally.to_block(row, INTERVALS + (h * NL + lv) * TALLY)
        score.p_up.to_block(row, PROB + h * ProbabilityTally.WIDTH)
        score.always_up.to_block(row, ALWAYS_UP + h * HitTally.WIDTH)
        score.fired.to_block(row, FIRED + h * HitTally.WIDTH)
        row[POSITION + h * 3 : POSITION + h * 3 + 3] = score.position
        row[OUTCOMES + h * 3 : OUTCOMES + h * 3 + 3] = score.ups, score.outcomes, score.expired
    for v, vh in enumerate(VOL_HORIZONS):
        moves = board.moves.get(vh)
        if moves is not None:
            moves.to_block(row, MOVE_TALLY + v * MoveTally.WIDTH)
    row[SCORED_TOTAL] = board.scored


def _queues(m: SymbolModel) -> Items:
    queues: Items = [[] for _ in range(NQ)]
    queues[Q_MA] = [list(p) for p in m.ma.window.points]
    queues[Q_TREND] = [list(p) for p in m.trend.window.points]
    queues[Q_MOMENTUM] = [list(p) for p in m.momentum.points]
    queues[Q_VOL] = [list(p) for p in m.vol.points]
    queues[Q_RECENT] = [list(p) for p in m.forecaster.recent]
    for h, name in enumerate(HORIZONS):
        queues[Q_BOARD + h] = [  # due, base, predictions, base rate, has forecast, forecast
            [e[0], e[1], *e[2], e[3], 1.0 if e[4] else 0.0, *(e[4] or [0.0] * FC)]
            for e in m.board.pending[name]
        ]
    for v, vh in enumerate(VOL_HORIZONS):
        queues[Q_MOVES + v] = [list(e) for e in m.forecaster.moves.pending[vh]]
    return queues


def decode(v: Sequence[float], items: Callable[[int], list[list[float]]], config: ModelConfig) -> SymbolModel:
    """The SymbolModel of a state row `v` whose queue q holds `items(q)`, oldest first."""
    m = SymbolModel(config)
    m.last_t, m.ticks = v[LAST_T], int(v[TICKS])
    m.first = (v[FIRST_T], v[FIRST_P]) if v[HAS_FIRST] else None
    m.trend.last = v[TREND_LAST]
    m.ma.window.load_block(v, WIN, items(Q_MA))
    m.trend.window.load_block(v, WIN + TimeWindow.WIDTH, items(Q_TREND))
    m.momentum.points = deque((t, p) for t, p in items(Q_MOMENTUM))
    m.vol.points = deque((t, p) for t, p in items(Q_VOL))
    m.vol.sum_sq = v[VOL]
    m.vol.last = (v[VOL + 2], v[VOL + 3]) if v[VOL + 1] else None
    fc = m.forecaster
    for o, estimator in _forecaster_blocks(fc):
        estimator.load_block(v, o)
    fc.recent = deque((t, p) for t, p in items(Q_RECENT))
    for h, hf in enumerate(fc.horizons.values()):
        hf.last_due = v[LAST_DUE + h]
        for r, levels in enumerate(hf.levels):
            for lv, level in enumerate(levels.values()):
                level.alpha = v[ALPHA + (h * NR + r) * NL + lv]
    for j, vh in enumerate(VOL_HORIZONS):
        fc.moves.last_due[vh] = v[MOVE_LAST_DUE + j]
        fc.moves.pending[vh] = deque((e[0], e[1], e[2], e[3], e[4], e[5]) for e in items(Q_MOVES + j))
    board = m.board
    for h, (name, horizon_s) in enumerate(HORIZONS.items()):
        board.scores[name] = horizon_score(v, h, horizon_s)
        pending: deque[list] = deque()
        for e in items(Q_BOARD + h):
            fc_list = e[2 + NS + 2 :] if e[2 + NS + 1] else None
            if fc_list is not None:
                fc_list[layout.F_REGIME] = int(fc_list[layout.F_REGIME])
            pending.append([e[0], e[1], e[2 : 2 + NS], e[2 + NS], fc_list])
        board.pending[name] = pending
    board.moves = {}
    for j, vh in enumerate(VOL_HORIZONS):
        tally = MoveTally.from_block(v, MOVE_TALLY + j * MoveTally.WIDTH)
        if tally is not None:
            board.moves[vh] = tally
    board.scored = int(v[SCORED_TOTAL])
    return m


def horizon_score(v: Sequence[float], h: int, horizon_s: float) -> HorizonScore:
    """The horizon's HorizonScore from the row's scoring blocks."""
    score = HorizonScore(horizon_s)
    for j, name in enumerate(SCORED):
        n, abs_err, pct_err, n_dir, hits = v[SUMS + (h * NS + j) * 5 : SUMS + (h * NS + j + 1) * 5]
        score.sums[name] = [int(n), abs_err, pct_err, int(n_dir), int(hits)]
    lags = hac_lags(horizon_s)
    for j, name in enumerate(m for m in SCORED if m != "persistence"):
        score.skill[name] = HacMean.from_block(v, SKILL + (h * (NS - 1) + j) * HAC, lags, LMAX)
    for lv, (level, alpha) in enumerate(LEVELS.items()):
        score.intervals[level] = IntervalTally.from_block(v, INTERVALS + (h * NL + lv) * TALLY, alpha)
    score.p_up = ProbabilityTally.from_block(v, PROB + h * ProbabilityTally.WIDTH)
    score.always_up = HitTally.from_block(v, ALWAYS_UP + h * HitTally.WIDTH)
    score.fired = HitTally.from_block(v, FIRED + h * HitTally.WIDTH)
    score.position = list(v[POSITION + h * 3 : POSITION + h * 3 + 3])
    ups, outcomes, expired = v[OUTCOMES + h * 3 : OUTCOMES + h * 3 + 3]
    score.ups, score.outcomes, score.expired = int(ups), int(outcomes), int(expired)
    return score
